"""Server-sent events, pure: an incremental parser for the event streams models answer
with (Workers AI: `data: {"response": "..."}` frames ending `data: [DONE]`; the
OpenAI-style `choices[0].delta.content` frames some models use), and the formatter of the
events the Guide sends to the browser (event ids `<reply seq>.<char offset>`, so a
reconnect with `Last-Event-ID` resumes at the exact character)."""

from __future__ import annotations

import json
import re

DONE = "[DONE]"


class SSEParser:
    """Feed bytes as they arrive; get complete events back. A frame split across reads
    (even inside a UTF-8 sequence) is held until its blank line arrives."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[dict]:
        self._buffer += chunk
        events = []
        while True:
            match = re.search(rb"\r\n\r\n|\n\n|\r\r", self._buffer)
            if match is None:
                return events
            raw, self._buffer = self._buffer[: match.start()], self._buffer[match.end():]
            event = _parse_frame(raw.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)

    def close(self) -> list[dict]:
        """Whatever complete frame is left when the stream ends without a blank line."""
        rest, self._buffer = self._buffer, b""
        event = _parse_frame(rest.decode("utf-8", errors="replace")) if rest.strip() else None
        return [event] if event is not None else []


def _parse_frame(text: str) -> dict | None:
    data, name, event_id = [], "message", None
    for line in re.split(r"\r\n|\n|\r", text):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
        elif field == "id":
            event_id = value
    if not data:
        return None
    return {"event": name, "data": "\n".join(data), "id": event_id}


def model_text(event: dict) -> tuple[str, bool, dict | None]:
    """(text, done, usage) of one model stream event."""
    data = event.get("data", "")
    if data.strip() == DONE:
        return "", True, None
    try:
        body = json.loads(data)
    except json.JSONDecodeError:
        return "", False, None
    if not isinstance(body, dict):
        return "", False, None
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else None
    if isinstance(body.get("response"), str):
        return body["response"], False, usage
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        delta = choices[0].get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        return (content if isinstance(content, str) else ""), False, usage
    return "", False, usage


def event_id(seq: int, offset: int) -> str:
    return f"{seq}.{offset}"


def parse_event_id(value: str | None) -> tuple[int, int] | None:
    """`<seq>.<offset>` from a Last-Event-ID header; None when absent or malformed."""
    match = re.fullmatch(r"\s*(\d{1,9})\.(\d{1,9})\s*", value or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def format_event(event: str, data: dict, id_: str | None = None) -> bytes:
    lines = []
    if id_ is not None:
        lines.append(f"id: {id_}")
    lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=False))
    return ("\n".join(lines) + "\n\n").encode()


def retry_hint(ms: int) -> bytes:
    return f"retry: {int(ms)}\n\n".encode()
