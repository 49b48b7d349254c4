"""Failure paths of the launch, where outages and attacks land: each answers with what a
person can act on, and writes nothing it should not."""

import asyncio
import re
import sqlite3
import threading
from html import unescape

import httpx
import pytest

from devhost.bindings._common import Fault
from devhost.demo_lms import LTI

ADMIN_KEYS = ("kty", "n", "e", "kid", "alg", "use")


def count(lti, table: str) -> int:
    return lti.count(table)


def fault(lti, binding: str, mode: str = "unavailable", **kw) -> None:
    httpx.post(lti.tool.url + "/__devhost/faults", json={"binding": binding, "mode": mode, **kw})


def launch_parts(lti):
    """A completed login and the platform's signed answer, not yet posted."""
    login = lti.login()
    cookie = login.headers["set-cookie"].split(";")[0]
    auth = httpx.get(login.headers["location"])
    fields = {k: unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', auth.text)}
    return fields, cookie


def test_a_launch_during_a_d1_outage_serves_the_cached_profile_and_says_nothing_is_saved(lti):
    assert lti.launch().status_code == 200  # the profile is read through into KV
    before = (count(lti, "learner_profiles"), count(lti, "learning_sessions"))
    fields, cookie = launch_parts(lti)
    fault(lti, "D1_PRIMARY")
    landed = lti.post_launch(fields["id_token"], fields["state"], cookie)
    assert landed.status_code == 303 and "notice=offline" in landed.headers["location"]
    page = httpx.get(landed.headers["location"])
    assert page.status_code == 200 and 'id="unsaved-note"' in page.text
    httpx.delete(lti.tool.url + "/__devhost/faults")
    assert (count(lti, "learner_profiles"), count(lti, "learning_sessions")) == before


def test_a_first_launch_during_a_d1_outage_is_a_503_page_and_writes_nothing(lti):
    fields, cookie = launch_parts(lti)  # the registration is read before the outage
    fault(lti, "D1_PRIMARY")
    r = lti.post_launch(fields["id_token"], fields["state"], cookie)
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    assert "database outage" in r.text and r.headers["retry-after"]
    httpx.delete(lti.tool.url + "/__devhost/faults")
    assert count(lti, "learner_profiles") == 0 and count(lti, "learning_sessions") == 0


def test_a_login_during_a_d1_outage_works_from_the_registrations_kv_copy(lti):
    assert lti.login().status_code == 302  # the registration's KV copy exists
    fault(lti, "D1_PRIMARY")
    assert lti.login().status_code == 302


def test_a_login_with_neither_d1_nor_the_kv_copy_is_a_503_page(lti):
    fault(lti, "D1_PRIMARY")
    fault(lti, "LTI_PLATFORMS")
    r = lti.login()
    assert r.status_code == 503 and 'id="correlation-id"' in r.text


def test_a_registration_that_disappears_mid_launch_is_refused_and_writes_nothing(lti):
    fields, cookie = launch_parts(lti)
    path = lti.host.d1["D1_PRIMARY"].path
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("DELETE FROM lti_platforms")
    conn.commit()
    conn.close()
    asyncio.run(_drop_kv_copies(lti))
    r = lti.post_launch(fields["id_token"], fields["state"], cookie)
    assert r.status_code == 400 and "registration disappeared" in r.text
    assert count(lti, "learner_profiles") == 0


async def _drop_kv_copies(lti):
    kv = lti.host.env.LTI_PLATFORMS
    for entry in (await kv.list())["keys"]:
        if entry["name"].startswith("reg:"):
            await kv.delete(entry["name"])


def test_a_platform_jwks_that_refuses_connections_is_a_502_page(lti, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/jwks"
    conn = sqlite3.connect(lti.host.d1["D1_PRIMARY"].path)
    conn.execute("UPDATE lti_platforms SET key_set_url = ?", (closed,))
    conn.commit()
    conn.close()
    asyncio.run(_drop_kv_copies(lti))
    fields, cookie = launch_parts(lti)
    r = lti.post_launch(fields["id_token"], fields["state"], cookie)
    assert r.status_code == 502 and "cannot be reached" in r.text and count(lti, "learner_profiles") == 0


def test_a_platform_jwks_that_times_out_is_a_502_page(lti):
    lti.platform.jwks_mode = "slow"  # answers after 6 s; the tool waits 4 s
    fields, cookie = launch_parts(lti)
    r = lti.post_launch(fields["id_token"], fields["state"], cookie)
    assert r.status_code == 502 and "cannot be reached" in r.text and count(lti, "learner_profiles") == 0


@pytest.mark.parametrize("key,fragment", [
    ({"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
      "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}, "kid is not in the platform&#x27;s key set"),
    ({"kty": "RSA", "n": "not-base64!", "e": "AQAB"}, "cannot be read"),
], ids=["non-rsa", "unreadable-rsa"])
def test_a_platform_key_the_tool_cannot_use_is_refused(lti, key, fragment):
    lti.platform.jwks_override = [{**key, "kid": lti.platform.kid}]
    fields, cookie = launch_parts(lti)
    r = lti.post_launch(fields["id_token"], fields["state"], cookie)
    assert r.status_code == 400 and fragment in r.text and count(lti, "learner_profiles") == 0


def test_a_deep_linking_request_without_its_settings_is_refused(lti):
    lti.platform.next_user = {"sub": "teacher-1", "roles": ["Instructor"], "message_type": "LtiDeepLinkingRequest"}
    state, nonce, cookie = lti.started()
    claims = lti.platform.claims(nonce)
    claims.pop("https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings")
    r = lti.post_launch(lti.platform.sign(claims), state, cookie)
    assert r.status_code == 400 and '<code id="error-claim">deep_linking_settings</code>' in r.text


def test_two_first_launches_of_one_user_at_once_end_with_one_profile(lti):
    parts = [launch_parts(lti) for _ in range(2)]
    results: list[int] = []

    def post(fields, cookie):
        results.append(lti.post_launch(fields["id_token"], fields["state"], cookie).status_code)

    threads = [threading.Thread(target=post, args=p) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [303, 303]
    assert count(lti, "learner_profiles") == 1 and count(lti, "learning_sessions") == 2


async def test_the_profile_creation_race_is_retried_with_the_winners_profile(host, monkeypatch):
    """The loser of the race read "no profile" just before the winner wrote one: its
    batch fails on the unique user, and it retries with the winner's profile."""
    from db import profiles
    from db.database import Database
    from db.system import system_scope
    from tests.conftest import TENANT_A

    db = Database(host.env)
    scope = system_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "test")
    winner, _ = await profiles.open_launch_session(db, scope, "user-x", "course-1", "learner")
    real = profiles.get_by_user
    stale = {"reads": 0}

    async def first_read_is_stale(*args, **kwargs):
        stale["reads"] += 1
        return None if stale["reads"] == 1 else await real(*args, **kwargs)

    monkeypatch.setattr(profiles, "get_by_user", first_read_is_stale)
    loser, session_id = await profiles.open_launch_session(db, scope, "user-x", "course-1", "learner")
    assert loser["id"] == winner["id"] and stale["reads"] >= 2
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    assert conn.execute("SELECT count(*) FROM learner_profiles").fetchone() == (1,)
    assert conn.execute("SELECT learner_id FROM learning_sessions WHERE id = ?", (session_id,)).fetchone() == (
        winner["id"],)
    conn.close()


def test_a_streamed_body_over_the_limit_without_content_length_is_413(http_host):
    from tests.conftest import auth

    def chunks():
        for _ in range(80):
            yield b"x" * 1024  # 80 KiB in chunks, no Content-Length (chunked transfer)

    r = httpx.patch(http_host.url + "/api/profile", content=chunks(),
                    headers={"content-type": "application/json", "If-Match": "*", **auth(http_host.host)})
    assert r.status_code == 413 and r.json()["title"] == "Content Too Large"


async def test_kv_failing_while_d1_is_down_is_a_503_not_a_500(host, client):
    from tests.api.helpers import seed_learner
    from tests.conftest import TENANT_A, auth

    await seed_learner(host, TENANT_A, "learner-1")
    assert (await client.get("/api/profile", headers=auth(host))).status_code == 200
    host.faults.set("D1_PRIMARY", Fault(mode="unavailable"))
    host.faults.set("PROFILE_CACHE", Fault(mode="unavailable"))
    r = await client.get("/api/profile", headers=auth(host))
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"


def test_the_fallback_event_buffer_keeps_the_newest_and_counts_what_it_dropped():
    from resilience.events import MAX_BUFFERED, FallbackEvents

    events = FallbackEvents()
    for i in range(MAX_BUFFERED + 5):
        events.record("fallback", "served_from_kv", None, n=i)
    assert len(events.pending) == MAX_BUFFERED and events.dropped == 5
    assert events.counts["served_from_kv"] == MAX_BUFFERED + 5  # the counts lose nothing
    assert '"n": 5' in events.pending[0][3]  # the oldest five went
    taken = events.take()
    events.put_back(taken + [("fallback", "x", 1.0, "{}", None)] * 3)
    assert len(events.pending) == MAX_BUFFERED


def test_unused_claim_constant_stays_in_step():
    # the deep-linking claim prefix the tests use is the platform's own
    assert LTI.startswith("https://purl.imsglobal.org/spec/lti/claim/")
