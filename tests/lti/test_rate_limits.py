"""Rate limits on the routes that do work before anyone is authenticated: per client
address and per platform, 429 with Retry-After, nothing stored for a refused request."""

import httpx
import pytest

from devhost.bindings._common import Fault
from devhost.bindings.ratelimit import LocalRateLimiter
from devhost.clock import ManualClock
from tests.conftest import loopback_host


@pytest.fixture
def http_host(tmp_path):
    """The tool over loopback HTTP on a clock only the test moves: a limiter's window
    never rolls over in the middle of a test."""
    with loopback_host(tmp_path / "state", clock=ManualClock()) as server:
        yield server


def login_from(lti, ip: str) -> httpx.Response:
    return httpx.get(lti.tool.url + "/lti/login", params=lti.login_params(), headers={"CF-Connecting-IP": ip})


def test_a_client_past_its_login_limit_gets_429_and_others_do_not(lti):
    limit = lti.host.ratelimits["LOGIN_LIMIT_CLIENT"].limit_value
    for _ in range(limit):
        assert login_from(lti, "203.0.113.7").status_code == 302
    refused = login_from(lti, "203.0.113.7")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert refused.headers["content-type"].startswith("text/html") and "set-cookie" not in refused.headers
    assert login_from(lti, "198.51.100.1").status_code == 302  # another client is not affected
    lti.host.clock.advance(60)  # the next window
    assert login_from(lti, "203.0.113.7").status_code == 302


def test_a_platform_past_its_login_limit_gets_429(lti):
    lti.host.ratelimits["LOGIN_LIMIT_PLATFORM"].limit_value = 3
    codes = [login_from(lti, f"203.0.113.{i}").status_code for i in range(4)]
    assert codes == [302, 302, 302, 429]


def test_launches_past_the_client_limit_are_refused_before_the_state_is_spent(lti):
    state, nonce, cookie = lti.started()
    lti.host.ratelimits["LAUNCH_LIMIT_CLIENT"].limit_value = 0
    r = lti.post_launch(lti.platform.sign(lti.platform.claims(nonce)), state, cookie)
    assert r.status_code == 429 and lti.count("learner_profiles") == 0
    lti.host.ratelimits["LAUNCH_LIMIT_CLIENT"].limit_value = 60
    assert lti.post_launch(lti.platform.sign(lti.platform.claims(nonce)), state, cookie).status_code == 303


def test_a_failing_limiter_lets_learners_in(lti):
    lti.host.faults.set("LOGIN_LIMIT_CLIENT", Fault(mode="unavailable"))
    assert lti.login().status_code == 302


def test_registration_links_are_rate_limited_per_client(http_host):
    http_host.host.ratelimits["REGISTRATION_LIMIT_CLIENT"].limit_value = 1
    url = http_host.url + "/lti/register?reg_code=x&openid_configuration=https://p.example/cfg"
    assert httpx.get(url).status_code == 400  # counted, refused for its bad code
    assert httpx.get(url).status_code == 429


# -- the local binding behaves as workerd's -------------------------------------------

async def test_local_limiter_counts_a_fixed_window_per_key_and_does_not_count_refusals():
    clock = ManualClock(start=1_000_000)
    rl = LocalRateLimiter("RL", limit=2, period=60, clock=clock.now)
    assert [(await rl.limit({"key": "a"}))["success"] for _ in range(3)] == [True, True, False]
    assert (await rl.limit({"key": "b"}))["success"] is True
    clock.advance(60)
    assert (await rl.limit({"key": "a"}))["success"] is True


@pytest.mark.parametrize("options,error", [
    ({"key": 5}, "invalid key"), ({"nope": 1}, "bad rate limit options"), ({"period": 30}, "unsupported period"),
    ({"delta": -1}, "negative"), ("x", "invalid rate limit options"),
])
async def test_local_limiter_refuses_bad_options_like_workerd(options, error):
    with pytest.raises((TypeError, ValueError), match=error):
        await LocalRateLimiter("RL", limit=2, period=60).limit(options)
