"""Model providers behind one interface: `stream(turn)` yields the reply's text pieces as
they are produced. Workers AI at the edge (`env.AI.run(model, {"messages", "stream":
True})`, whose answer is a byte stream of server-sent events), and the offline Guide
(chat/offline.py) where no model is connected. A failure to reach or read the model is a
ProviderError; the caller retries with backoff and then answers with a fallback message.

A turn is a dict: `messages` (the built prompt, for models), and for the offline Guide
`message`, `history`, `page`, `learner`, `mode`, `graded`."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

from chat import offline
from chat.sse import SSEParser, model_text

READ_TIMEOUT_S = 30.0  # a model that sends nothing for this long has failed


class ProviderError(Exception):
    """The model could not be reached or stopped answering."""


class OfflineProvider:
    name = "offline"
    model = offline.MODEL

    async def stream(self, turn: dict) -> AsyncIterator[str]:
        for piece in offline.pieces(offline.reply(turn)):
            yield piece
            await asyncio.sleep(0)  # a piece at a time, as a model would, so readers interleave


class WorkersAIProvider:
    name = "workers-ai"

    def __init__(self, ai: Any, model: str, max_tokens: int, read_timeout_s: float = READ_TIMEOUT_S) -> None:
        self.ai = ai
        self.model = model
        self.max_tokens = int(max_tokens)
        self.read_timeout_s = read_timeout_s

    async def stream(self, turn: dict) -> AsyncIterator[str]:
        try:
            answer = await self.ai.run(self.model, {"messages": turn["messages"], "stream": True,
                                                    "max_tokens": self.max_tokens})
        except Exception as exc:
            raise ProviderError(f"Workers AI refused the request: {exc}") from None
        if isinstance(answer, dict):  # a model that does not stream answers whole
            text = answer.get("response")
            if isinstance(text, str) and text:
                yield text
            return
        parser = SSEParser()
        try:
            async for chunk in byte_chunks(answer, self.read_timeout_s):
                for event in parser.feed(chunk):
                    text, done, _usage = model_text(event)
                    if text:
                        yield text
                    if done:
                        return
            for event in parser.close():
                text, _done, _usage = model_text(event)
                if text:
                    yield text
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(f"the Workers AI stream broke off: {exc}") from None


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    to_bytes = getattr(value, "to_bytes", None)  # a JS Uint8Array seen from Python (Pyodide)
    if callable(to_bytes):
        return bytes(to_bytes())
    raise ProviderError(f"unexpected chunk type {type(value).__name__} in the model stream")


def _field(result: Any, name: str) -> Any:
    return result.get(name) if isinstance(result, dict) else getattr(result, name, None)


async def byte_chunks(stream: Any, timeout_s: float) -> AsyncIterator[bytes]:
    """The bytes of a ReadableStream (`getReader().read()` -> {done, value}, as the
    runtime hands a JS stream to Python) or of an async iterator of bytes. A read that
    takes longer than `timeout_s` is a failure; the reader is cancelled when we stop
    early, so the model is not left generating (and billing) for nobody."""
    if hasattr(stream, "getReader"):
        reader = stream.getReader()
        finished = False
        try:
            while True:
                try:
                    result = await asyncio.wait_for(reader.read(), timeout_s)
                except TimeoutError:
                    raise ProviderError(f"the model sent nothing for {timeout_s:g} s") from None
                if _field(result, "done"):
                    finished = True
                    return
                value = _field(result, "value")
                if value is not None:
                    yield _as_bytes(value)
        finally:
            if not finished and hasattr(reader, "cancel"):
                try:
                    await reader.cancel()
                except Exception:
                    pass  # the stream is being abandoned either way
    elif hasattr(stream, "__aiter__"):
        iterator = stream.__aiter__()
        while True:
            try:
                chunk = await asyncio.wait_for(iterator.__anext__(), timeout_s)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise ProviderError(f"the model sent nothing for {timeout_s:g} s") from None
            yield _as_bytes(chunk)
    else:
        yield _as_bytes(stream)


def choose(env: Any, settings: dict) -> OfflineProvider | WorkersAIProvider:
    """The provider the settings ask for. `auto` uses Workers AI where the AI binding is a
    real one, and the offline Guide where it is missing or is the local host's labelled
    stand-in (which cannot run a model)."""
    ai = getattr(env, "AI", None)
    wanted = settings.get("provider", "auto")
    if wanted == "offline" or (wanted == "auto" and (ai is None or getattr(ai, "is_stand_in", False))):
        return OfflineProvider()
    return WorkersAIProvider(ai if ai is not None else _MissingAI(), str(settings["model"]),
                             int(settings["reply_max_tokens"]))


class _MissingAI:
    async def run(self, model: str, inputs: dict) -> None:
        raise ProviderError("no Workers AI binding (`ai` in wrangler.jsonc) is configured")
