"""Pure-ASGI guard run before every route: assigns the correlation id and refuses
bodies over the documented cap before they are read into memory."""

from __future__ import annotations

import json
import secrets

MAX_BODY_BYTES = 64 * 1024  # documented in the README; profile documents are small


def _problem(status: int, title: str, detail: str, cid: str, path: str) -> tuple[dict, bytes]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail,
                       "instance": path, "correlation_id": cid}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/problem+json"),
                         (b"content-length", str(len(body)).encode()),
                         (b"x-correlation-id", cid.encode())]}
    return start, body


class RequestGuard:
    def __init__(self, app, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        # Cloudflare's ray id when present, otherwise our own (generated per request, never at import).
        cid = headers.get("cf-ray") or secrets.token_hex(8)
        scope.setdefault("state", {})["correlation_id"] = cid
        path = scope.get("path", "")

        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                start, body = _problem(400, "Bad Request", "Content-Length is not a number.", cid, path)
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            if int(length) > self.max_body:
                start, body = _problem(413, "Content Too Large",
                                       f"Request bodies are limited to {self.max_body} bytes.", cid, path)
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return

        received = 0
        too_large = False

        async def limited_receive():
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    too_large = True
                    raise _BodyTooLarge()
            return message

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), (b"x-correlation-id", cid.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            start, body = _problem(413, "Content Too Large",
                                   f"Request bodies are limited to {self.max_body} bytes.", cid, path)
            await send(start)
            await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
