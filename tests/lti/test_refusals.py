"""Every check of login initiation and launch, failing one at a time: a clear HTML page
naming what failed (no stack trace), and nothing written."""

import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devhost.demo_lms import DROP, LTI


def assert_refused(lti, r: httpx.Response, status: int, fragment: str):
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("text/html")
    assert fragment in r.text, r.text[:800]
    assert "Traceback" not in r.text and 'id="error-title"' in r.text
    assert lti.count("learner_profiles") == 0 and lti.count("learning_sessions") == 0


# -- login initiation ---------------------------------------------------------------

@pytest.mark.parametrize("override,fragment", [
    ({"iss": None}, "no issuer"),
    ({"iss": "https://unknown.example.com"}, "not registered"),
    ({"client_id": "nope"}, "client_id is not registered"),
    ({"lti_deployment_id": "other"}, "deployment is not registered"),
    ({"target_link_uri": "https://evil.example.com/lti/launch"}, "target_link_uri does not point at this tool"),
    ({"login_hint": None}, "no login_hint"),
], ids=["missing-iss", "unknown-iss", "unknown-client-id", "unknown-deployment", "foreign-target", "no-login-hint"])
def test_login_refuses(lti, override, fragment):
    assert_refused(lti, lti.login(**override), 400, fragment)


# -- launch ---------------------------------------------------------------------------

def launch_with(lti, token_for, cookie=True):
    """Starts a real login, then posts the token built by token_for(nonce)."""
    state, nonce, cookie_value = lti.started()
    return lti.post_launch(token_for(nonce), state, cookie_value if cookie else None)


def claims_launch(lti, **overrides):
    return launch_with(lti, lambda nonce: lti.platform.sign(lti.platform.claims(nonce, **overrides)))


def test_launch_without_state(lti):
    assert_refused(lti, lti.post_launch("x.y.z", None, None), 400, "no state")


def test_launch_with_a_state_never_issued(lti):
    assert_refused(lti, lti.post_launch("x.y.z", "A" * 43, "ag_state_x=y"), 400, "unknown")


def test_launch_without_the_state_cookie_and_no_platform_storage(lti):
    r = launch_with(lti, lambda n: lti.platform.sign(lti.platform.claims(n)), cookie=False)
    assert_refused(lti, r, 400, "state cookie is missing")


def test_launch_with_an_expired_state(lti):
    state, nonce, cookie = lti.started()
    token = lti.platform.sign(lti.platform.claims(nonce))
    lti.host.clock.advance(601)  # the tool's clock only; its alarm may clean up meanwhile
    assert_refused(lti, lti.post_launch(token, state, cookie), 400, "state expired")


def test_replayed_launch_is_refused(lti):
    state, nonce, cookie = lti.started()
    token = lti.platform.sign(lti.platform.claims(nonce))
    assert lti.post_launch(token, state, cookie).status_code == 303
    profiles, sessions = lti.count("learner_profiles"), lti.count("learning_sessions")
    r = lti.post_launch(token, state, cookie)
    assert r.status_code == 400 and "already used" in r.text
    assert (lti.count("learner_profiles"), lti.count("learning_sessions")) == (profiles, sessions)


def test_token_that_is_not_a_jwt(lti):
    assert_refused(lti, launch_with(lti, lambda n: "not-a-jwt"), 400, "not a JWT")


def test_alg_none(lti):
    r = launch_with(lti, lambda n: jwt.encode(lti.platform.claims(n), None, algorithm="none",
                                              headers={"kid": lti.platform.kid}))
    assert_refused(lti, r, 400, "alg must be RS256")


def test_alg_hs256(lti):
    r = launch_with(lti, lambda n: jwt.encode(lti.platform.claims(n), "secret" * 8, algorithm="HS256",
                                              headers={"kid": lti.platform.kid}))
    assert_refused(lti, r, 400, "alg must be RS256")


def test_missing_kid(lti):
    r = launch_with(lti, lambda n: lti.platform.sign(lti.platform.claims(n), kid=None))
    assert_refused(lti, r, 400, "no kid")


def test_unknown_kid(lti):
    r = launch_with(lti, lambda n: lti.platform.sign(lti.platform.claims(n), kid="never-published"))
    assert_refused(lti, r, 400, "kid is not in the platform")


def test_bad_signature(lti):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = launch_with(lti, lambda n: lti.platform.sign(lti.platform.claims(n), key=other))
    assert_refused(lti, r, 400, "signature does not verify")


@pytest.mark.parametrize("overrides,fragment", [
    ({"exp": DROP}, "no exp"),
    ({"exp": "4102444800"}, "exp must be a number"),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
    ({"iat": int(time.time()) + 3600}, "issued in the future"),
    ({"iat": DROP}, "no iat"),
    ({"aud": "someone-else"}, "aud does not contain"),
    ({"aud": ["10000000000001", "other"], "azp": "other"}, "azp must be"),
    ({"aud": ["10000000000001", "other"]}, "azp must be"),
    ({"iss": "https://impostor.example.com"}, "iss is not the issuer"),
    ({"nonce": DROP}, "no nonce"),
    ({"nonce": "not-the-one-we-issued"}, "nonce was not issued"),
    ({LTI + "deployment_id": "unregistered"}, "deployment_id is not registered"),
    ({LTI + "version": "1.1"}, "version must be 1.3.0"),
    ({LTI + "message_type": "LtiSubmissionReviewRequest"}, "not supported"),
    ({"sub": DROP}, "no sub"),
    ({LTI + "roles": DROP}, "no roles claim"),
    ({LTI + "resource_link": DROP}, "no resource_link"),
    ({LTI + "target_link_uri": "https://elsewhere.example.com"}, "target_link_uri is not the one"),
    ({LTI + "context": DROP}, "no context"),
], ids=["missing-exp", "string-exp", "expired", "iat-future", "missing-iat", "wrong-aud", "wrong-azp",
        "missing-azp", "wrong-iss", "missing-nonce", "unknown-nonce", "unknown-deployment", "wrong-version",
        "wrong-message-type", "missing-sub", "missing-roles", "missing-resource-link", "wrong-target-link-uri",
        "missing-context"])
def test_claim_check(lti, overrides, fragment):
    assert_refused(lti, claims_launch(lti, **overrides), 400, fragment)


def test_empty_roles_are_accepted(lti):
    assert claims_launch(lti, **{LTI + "roles": []}).status_code == 303


def test_platform_jwks_unreachable(lti):
    lti.platform.jwks_mode = "down"
    assert_refused(lti, claims_launch(lti), 502, "answered HTTP 503")


def test_platform_jwks_not_json(lti):
    lti.platform.jwks_mode = "notjson"
    assert_refused(lti, claims_launch(lti), 502, "not a JSON Web Key Set")


def test_unknown_kid_refetch_is_rate_limited(lti):
    assert claims_launch(lti).status_code == 303  # fetches and caches the key set
    assert lti.platform.jwks_fetches == 1

    def unknown_kid_launch():
        r = launch_with(lti, lambda n: lti.platform.sign(lti.platform.claims(n), kid="rotated-unknown"))
        assert r.status_code == 400 and "kid" in r.text

    unknown_kid_launch()  # inside the window of the last fetch: no refetch
    assert lti.platform.jwks_fetches == 1
    lti.host.clock.advance(61)
    for _ in range(3):
        unknown_kid_launch()
    assert lti.platform.jwks_fetches == 2  # one refetch past the window, then rate-limited again
