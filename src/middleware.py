"""Pure-ASGI guard run before every route: the correlation id; bodies over the cap refused
before they are read; the admin API authenticated before its body is even parsed; HEAD
answered like GET without a body and OPTIONS with `Allow` (RFC 9110); and the response
headers every answer of a kind carries (no caching of personal data, HSTS on https)."""

from __future__ import annotations

import json
import secrets

from starlette.routing import Match

MAX_BODY_BYTES = 64 * 1024  # documented in the README; request documents are small
# What a refused body is told, where a route's documents have a limit of their own to name.
BODY_LIMIT_DETAIL = {"/api/question-bank/import": "Question-bank imports are limited to 64 KiB (about 300 items); "
                                                  "split the file and import the parts."}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
HSTS = b"max-age=63072000; includeSubDomains"


def _problem(status: int, title: str, detail: str, cid: str, path: str,
             extra_headers: list[tuple[bytes, bytes]] = ()) -> tuple[dict, bytes]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail,
                       "instance": path, "correlation_id": cid}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/problem+json"),
                         (b"content-length", str(len(body)).encode()),
                         (b"x-correlation-id", cid.encode()), (b"cache-control", b"no-store"), *extra_headers]}
    return start, body


# The methods the Workers SDK's ASGI bridge can hand to the app (http.HTTPMethod): it
# fails on any other with a bare 500 before the app runs, so src/entry.py answers those
# itself with unknown_method().
BRIDGED_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"})


def unknown_method(app, method: str, path: str, cf_ray: str | None) -> tuple[int, dict, bytes] | None:
    """(status, headers, body) for a method the bridge cannot carry (QUERY, PROPFIND,
    ...): 405 with the path's `Allow` when some route serves the path, else 404. None
    for the methods it carries (the guard below answers them)."""
    if method in BRIDGED_METHODS:
        return None
    cid = cf_ray or secrets.token_hex(8)
    allowed = RequestGuard(None, routes_of=app).allowed_methods({"type": "http", "path": path, "root_path": ""})
    if allowed:
        start, body = _problem(405, "Method Not Allowed", f"{method[:20]} is not a method this path answers.", cid,
                               path, [(b"allow", ", ".join(allowed).encode())])
    else:
        start, body = _problem(404, "Not Found", "Nothing is served at this path.", cid, path)
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


class RequestGuard:
    def __init__(self, app, max_body: int = MAX_BODY_BYTES, routes_of=None) -> None:
        self.app = app
        self.max_body = max_body
        self.routes_of = routes_of  # the FastAPI app, to know which methods a path allows

    def _too_large(self, path: str) -> str:
        return BODY_LIMIT_DETAIL.get(path, f"Request bodies are limited to {self.max_body} bytes.")

    def allowed_methods(self, scope) -> list[str]:
        """The methods some route answers for this path (asked of the routes themselves,
        so included routers and path parameters are handled as the router does)."""
        methods: set[str] = set()
        routes = getattr(self.routes_of, "routes", [])
        for method in METHODS:
            probe = {**scope, "type": "http", "method": method}
            if any(route.matches(probe)[0] is Match.FULL for route in routes):
                methods.add(method)
        if "GET" in methods:
            methods.add("HEAD")
        if methods:
            methods.add("OPTIONS")
        return sorted(methods)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        # Cloudflare's ray id when present, otherwise our own (generated per request, never at import).
        cid = headers.get("cf-ray") or secrets.token_hex(8)
        scope.setdefault("state", {})["correlation_id"] = cid
        path = scope.get("path", "")

        async def refuse(status: int, title: str, detail: str, extra=()):
            start, body = _problem(status, title, detail, cid, path, list(extra))
            await send(start)
            await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})

        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await refuse(400, "Bad Request", "Content-Length is not a number.")
                return
            if int(length) > self.max_body:
                await refuse(413, "Content Too Large", self._too_large(path))
                return

        if path.startswith("/admin/") and scope["method"] != "OPTIONS":
            from api.admin import ADMIN_REALM, admin_authorized

            if not admin_authorized(scope.get("env"), headers.get("authorization")):
                await refuse(401, "Unauthorized", "The admin API needs `Authorization: Bearer <ADMIN_API_SECRET>`.",
                             [(b"www-authenticate", ADMIN_REALM.encode())])
                return

        if scope["method"] == "OPTIONS":
            allowed = self.allowed_methods(scope)
            if allowed:
                await send({"type": "http.response.start", "status": 204,
                            "headers": [(b"allow", ", ".join(allowed).encode()), (b"x-correlation-id", cid.encode())]})
                await send({"type": "http.response.body", "body": b""})
                return

        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        https = scope.get("scheme") == "https" or str(getattr(scope.get("env"), "TOOL_BASE_URL", "") or "").startswith(
            "https://")
        api = path.startswith("/api/") or path.startswith("/admin/")

        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge()
            return message

        started = False

        async def send_guarded(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                extra = [(b"x-correlation-id", cid.encode())]
                names = {k.lower() for k, _ in message.get("headers", [])}
                if api:
                    # Everything under /api/ and /admin/ is about people or secrets.
                    message["headers"] = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                    extra.append((b"cache-control", b"no-store"))
                if https and b"strict-transport-security" not in names:
                    extra.append((b"strict-transport-security", HSTS))
                if message.get("status") == 405:
                    message["headers"] = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    extra.append((b"allow", ", ".join(self.allowed_methods(scope)).encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            elif message["type"] == "http.response.body" and head:
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_guarded)
        except _BodyTooLarge:
            if not started:
                await refuse(413, "Content Too Large", self._too_large(path))


class _BodyTooLarge(Exception):
    pass
