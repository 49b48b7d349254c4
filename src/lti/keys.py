"""The tool's signing keys: read from the TOOL_PRIVATE_KEYS secret, published at
/.well-known/jwks.json with kid = RFC 7638 thumbprint.

Rotation: the secret holds an ordered list of PEM keys with a status. `next` keys are
published before they sign (platforms cache JWKS); `current` signs; `previous` stays
published until tokens it signed have expired (our JWTs live 5 minutes). Rotating is:
add a `next`; later promote it to `current` and demote the old to `previous`; later drop
`previous`."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def public_jwk(key: RSAPrivateKey) -> dict:
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "e": _int_b64(numbers.e), "n": _int_b64(numbers.n)}
    jwk["kid"] = thumbprint(jwk)
    jwk.update({"alg": "RS256", "use": "sig"})
    return jwk


def thumbprint(jwk: dict) -> str:
    """RFC 7638: SHA-256 over the required members in lexicographic order, no spaces."""
    members = {k: jwk[k] for k in ("e", "kty", "n")}
    return b64url(hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest())


@dataclass(frozen=True)
class ToolKey:
    key: RSAPrivateKey
    kid: str
    status: str  # current | next | previous


class KeyConfigError(Exception):
    pass


_CACHE: dict[str, list[ToolKey]] = {}


def tool_keys(env) -> list[ToolKey]:
    raw = getattr(env, "TOOL_PRIVATE_KEYS", None)
    if not raw:
        raise KeyConfigError("TOOL_PRIVATE_KEYS secret is not set")
    raw = str(raw)
    cached = _CACHE.get(raw)
    if cached is not None:
        return cached
    try:
        text = raw if raw.lstrip().startswith("{") else base64.b64decode(raw).decode()
        entries = json.loads(text)["keys"]
        keys = []
        for e in entries:
            key = serialization.load_pem_private_key(e["pem"].encode(), password=None)
            if not isinstance(key, RSAPrivateKey):
                raise KeyConfigError("tool keys must be RSA")
            keys.append(ToolKey(key, public_jwk(key)["kid"], e.get("status", "current")))
    except KeyConfigError:
        raise
    except Exception as exc:
        raise KeyConfigError(f"TOOL_PRIVATE_KEYS is not a valid key set: {type(exc).__name__}") from None
    if sum(1 for k in keys if k.status == "current") != 1:
        raise KeyConfigError("TOOL_PRIVATE_KEYS needs exactly one key with status 'current'")
    _CACHE[raw] = keys
    return keys


def signing_key(env) -> ToolKey:
    return next(k for k in tool_keys(env) if k.status == "current")


def jwks(env) -> dict:
    return {"keys": [public_jwk(k.key) for k in tool_keys(env)]}


def sign(env, claims: dict) -> str:
    key = signing_key(env)
    return jwt.encode(claims, key.key, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"})
