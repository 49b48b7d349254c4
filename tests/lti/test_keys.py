"""Tool keys: kid is the RFC 7638 thumbprint; rotation publishes next/previous keys but
signs only with the current one."""

import base64
import json

import httpx
import jwt
import pytest
from jwt.algorithms import RSAAlgorithm

from devhost.__main__ import new_tool_key_set
from lti import keys


def test_thumbprint_matches_the_rfc_7638_example():
    # RFC 7638, section 3.1.
    jwk = {"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
           "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRX"
                "jBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAt"
                "aSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPk"
                "sINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}
    assert keys.thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


class Env:
    def __init__(self, value):
        self.TOOL_PRIVATE_KEYS = value


def test_rotation_publishes_all_keys_and_signs_with_the_current_one():
    env = Env(new_tool_key_set(("previous", "current", "next")))
    published = keys.jwks(env)["keys"]
    assert len(published) == 3 and all(k["kid"] == keys.thumbprint(k) for k in published)
    token = keys.sign(env, {"iss": "x"})
    kid = jwt.get_unverified_header(token)["kid"]
    current = next(k for k in keys.tool_keys(env) if k.status == "current")
    assert kid == current.kid
    jwk = next(k for k in published if k["kid"] == kid)
    assert jwt.decode(token, RSAAlgorithm.from_jwk(json.dumps(jwk)), algorithms=["RS256"]) == {"iss": "x"}


@pytest.mark.parametrize("value,fragment", [
    ("", "not set"),
    ("not base64 json", "not a valid key set"),
    (base64.b64encode(json.dumps({"keys": []}).encode()).decode(), "exactly one"),
])
def test_bad_key_configuration_is_named(value, fragment):
    with pytest.raises(keys.KeyConfigError, match=fragment):
        keys.tool_keys(Env(value))


def test_jwks_endpoint_serves_the_public_keys_only(http_host):
    r = httpx.get(http_host.url + "/.well-known/jwks.json")
    assert r.status_code == 200
    (key,) = r.json()["keys"]
    assert set(key) == {"kty", "e", "n", "kid", "alg", "use"} and key["kid"] == keys.thumbprint(key)
