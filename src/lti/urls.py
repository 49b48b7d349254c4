"""URL rules for what the tool fetches or trusts, decided on parsed URLs (never on
string prefixes): platform endpoints must be https, plain http only for a loopback host
and only when the tool runs locally; a launch target must be this tool's launch URL."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def split_url(url: str):
    """urlsplit with the host rule of CPython 3.13.2 (the Workers runtime's Python): a
    netloc with square brackets must put them around a whole IPv6 (or IPvFuture) host,
    optionally followed by a port. Older 3.13 releases accept `https://a[::1]b/`;
    deciding here keeps the answer the same on every interpreter (tests/pyodide)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "[" in netloc and "]" in netloc:
        hostport = netloc.rpartition("@")[2]
        before, bracket, rest = hostport.partition("[")
        if bracket:
            host, _, after = rest.partition("]")
            if before or (after and not after.startswith(":")):
                raise ValueError("Invalid IPv6 URL")
        else:
            host = hostport.partition(":")[0]
        if host.startswith("v"):
            if not re.fullmatch(r"v[a-fA-F0-9]+\..+", host, re.S):
                raise ValueError("IPvFuture address is invalid")
        elif not isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            raise ValueError("An IPv4 address cannot be in brackets")
    return parts


class UrlPolicyError(ValueError):
    """The URL may not be used; the message says why (safe to show: no fetch happened)."""


def check_platform_url(url: str, allow_http_loopback: bool) -> str:
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise UrlPolicyError("must be a URL of at most 2048 characters")
    try:
        parts = split_url(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise UrlPolicyError("is not a well-formed URL") from None
    if not host:
        raise UrlPolicyError("has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlPolicyError("must not carry a user name or password")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and host in LOOPBACK_HOSTS and allow_http_loopback:
        return url
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        raise UrlPolicyError("plain http is allowed only when the tool runs locally")
    raise UrlPolicyError("must be an https URL")


def is_under(url: str, base: str) -> bool:
    """Same scheme, host and port, and the path at or below base's path."""
    try:
        a, b = split_url(url), split_url(base)
        same_origin = (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
    except ValueError:
        return False
    base_path = b.path.rstrip("/")
    return same_origin and (a.path == base_path or a.path.startswith(base_path + "/") or not base_path)


def same_endpoint(url: str, expected: str) -> bool:
    """Same scheme, host, port and path (a query string may differ)."""
    try:
        a, b = split_url(url), split_url(expected)
        return (a.scheme, a.hostname, a.port, a.path) == (b.scheme, b.hostname, b.port, b.path) \
            and a.username is None and a.password is None
    except ValueError:
        return False
