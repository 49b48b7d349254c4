"""Origins that may frame the tool's pages (CSP frame-ancestors), decided from what a
platform registered and what a verified launch names. Pure (stdlib only); lti/framing.py
reads and caches the registered union around it."""

from __future__ import annotations

import re

from lti.urls import split_url

CANVAS_CLOUD_ISSUERS = {"https://canvas.instructure.com", "https://canvas.beta.instructure.com",
                        "https://canvas.test.instructure.com"}
CANVAS_CLOUD_ORIGINS = ("https://*.instructure.com",)
MAX_ORIGINS = 16
_HOST = re.compile(r"^(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$")
# An admin-given frame origin (the same rule as valid_frame_origin, for schemas).
FRAME_ORIGIN_PATTERN = r"^https://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$"


def origin(url: str | None, *, allow_http_loopback: bool = True) -> str | None:
    """scheme://host[:port] of an https URL (or http on a loopback host), else None."""
    if not isinstance(url, str) or not url or len(url) > 2048:
        return None
    try:
        parts = split_url(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host or parts.username or parts.password:
        return None
    loopback = host in ("localhost", "127.0.0.1", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback and allow_http_loopback):
        return None
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}{f':{port}' if port else ''}"


def valid_frame_origin(value: str) -> bool:
    """An admin-given origin: https://host[:port] or https://*.domain (no path)."""
    if not isinstance(value, str) or len(value) > 255 or not value.startswith("https://"):
        return False
    return bool(_HOST.match(value[len("https://"):]))


def platform_origins(issuer: str, auth_login_url: str, extra: list[str]) -> list[str]:
    out = [o for o in (origin(issuer), origin(auth_login_url)) if o]
    if issuer.rstrip("/") in CANVAS_CLOUD_ISSUERS:
        out += CANVAS_CLOUD_ORIGINS
    out += [o for o in extra if valid_frame_origin(o)]
    return sorted(set(out))[:MAX_ORIGINS]


def launch_origins(registered: list[str], launch_presentation: dict | None, custom: dict | None) -> list[str]:
    """The registration's origins plus those the verified launch names."""
    out = list(registered)
    if isinstance(launch_presentation, dict):
        o = origin(launch_presentation.get("return_url"))
        if o:
            out.append(o)
    domain = (custom or {}).get("canvas_api_domain") if isinstance(custom, dict) else None
    if isinstance(domain, str) and _HOST.match(domain) and not domain.startswith("*"):
        out.append(f"https://{domain}")
    return sorted(set(out))[:MAX_ORIGINS]
