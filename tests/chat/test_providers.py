"""Model providers: Workers AI's streamed SSE read into text pieces (against the local
stand-in, which streams in Workers AI's shape), the offline Guide, the choice between
them, and how a broken or silent stream becomes a ProviderError."""

import asyncio

import pytest

from chat import limits, offline, providers
from devhost.bindings._common import Fault, FaultPlan
from devhost.bindings.ai import LocalAI

MESSAGES = [{"role": "system", "content": "Be Socratic."}, {"role": "user", "content": "What is a parabola?"}]


async def _collect(provider, turn) -> list[str]:
    return [piece async for piece in provider.stream(turn)]


async def test_workers_ai_stream_yields_the_same_text_as_the_whole_answer():
    ai = LocalAI("AI")
    whole = await ai.run("@cf/meta/llama-3.1-8b-instruct", {"messages": MESSAGES})
    pieces = await _collect(providers.WorkersAIProvider(ai, "@cf/meta/llama-3.1-8b-instruct", 300),
                            {"messages": MESSAGES})
    assert len(pieces) > 5 and "".join(pieces) == whole["response"]
    assert whole["response"].startswith("[local AI stand-in ")  # the mock says what it is
    assert "stream" not in ai.calls[0]["inputs"] and ai.calls[1]["inputs"]["stream"] is True
    assert ai.calls[1]["inputs"]["max_tokens"] == 300


async def test_local_stand_in_streams_server_sent_events_ending_with_done():
    stream = await LocalAI("AI").run("m", {"messages": MESSAGES, "stream": True})
    reader = stream.getReader()
    raw = b""
    while not (r := await reader.read())["done"]:
        raw += r["value"]
    assert raw.startswith(b'data: {"response": "[local"') and raw.endswith(b"data: [DONE]\n\n")
    assert b'"usage"' in raw


async def test_a_refused_request_and_a_broken_stream_are_provider_errors():
    faults = FaultPlan()
    ai = LocalAI("AI", faults)
    provider = providers.WorkersAIProvider(ai, "m", 100)
    faults.set("AI", Fault(mode="error", ops=("run",)))
    with pytest.raises(providers.ProviderError, match="refused"):
        await _collect(provider, {"messages": MESSAGES})
    faults.set("AI", Fault(mode="unavailable", ops=("stream",), after=3))
    got = []
    with pytest.raises(providers.ProviderError, match="broke off"):
        async for piece in provider.stream({"messages": MESSAGES}):
            got.append(piece)
    assert got  # what came before the break was delivered


async def test_a_silent_stream_times_out_and_is_cancelled():
    class Silent:
        cancelled = False

        def getReader(self):
            return self

        async def read(self):
            await asyncio.Event().wait()

        async def cancel(self, reason=None):
            Silent.cancelled = True

    class SilentAI:
        async def run(self, model, inputs):
            return Silent()

    provider = providers.WorkersAIProvider(SilentAI(), "m", 100, read_timeout_s=0.01)
    with pytest.raises(providers.ProviderError, match="sent nothing"):
        await _collect(provider, {"messages": MESSAGES})
    assert Silent.cancelled


async def test_other_stream_shapes_async_iterators_bytes_and_whole_answers():
    async def chunks():
        yield b'data: {"response":"a"}\n\ndata: {"response":"b"}'
        yield memoryview(b'\n\n')

    class IterAI:
        async def run(self, model, inputs):
            return chunks()

    class BytesAI:
        async def run(self, model, inputs):
            return b'data: {"response":"x"}\n\ndata: {"response":"y"}'  # no final blank line

    class WholeAI:
        async def run(self, model, inputs):
            return {"response": "whole"}

    assert await _collect(providers.WorkersAIProvider(IterAI(), "m", 10), {"messages": []}) == ["a", "b"]
    assert await _collect(providers.WorkersAIProvider(BytesAI(), "m", 10), {"messages": []}) == ["x", "y"]
    assert await _collect(providers.WorkersAIProvider(WholeAI(), "m", 10), {"messages": []}) == ["whole"]


async def test_a_js_uint8array_seen_from_python_is_read_through_to_bytes():
    class JsBytes:
        def to_bytes(self):
            return b'data: {"response":"js"}\n\n'

    class JsStream:
        def __init__(self):
            self.left = [JsBytes()]

        def getReader(self):
            return self

        async def read(self):
            class Result:  # a JS object: attributes, not keys
                pass
            r = Result()
            r.done = not self.left
            r.value = self.left.pop() if self.left else None
            return r

    class JsAI:
        async def run(self, model, inputs):
            return JsStream()

    assert await _collect(providers.WorkersAIProvider(JsAI(), "m", 10), {"messages": []}) == ["js"]
    with pytest.raises(providers.ProviderError, match="unexpected chunk"):
        providers._as_bytes(3.5)


async def test_offline_provider_streams_the_offline_guides_reply():
    turn = {"message": "I'm stuck on fractions", "history": [], "page": {"concept": "Fractions"}, "learner": {}}
    assert "".join(await _collect(providers.OfflineProvider(), turn)) == offline.reply(turn)


def test_auto_uses_workers_ai_only_where_the_binding_is_real():
    class Env:
        pass

    env = Env()
    settings = dict(limits.DEFAULTS)
    assert isinstance(providers.choose(env, settings), providers.OfflineProvider)  # no binding
    env.AI = LocalAI("AI")
    assert isinstance(providers.choose(env, settings), providers.OfflineProvider)  # the labelled stand-in
    chosen = providers.choose(env, {**settings, "provider": "workers-ai", "model": "@cf/x"})
    assert isinstance(chosen, providers.WorkersAIProvider) and chosen.model == "@cf/x"
    env.AI = object()  # a real binding, as far as the code can tell
    assert isinstance(providers.choose(env, settings), providers.WorkersAIProvider)
    assert isinstance(providers.choose(env, {**settings, "provider": "offline"}), providers.OfflineProvider)


async def test_workers_ai_chosen_without_a_binding_fails_as_a_provider_error():
    class Env:
        pass

    provider = providers.choose(Env(), {**limits.DEFAULTS, "provider": "workers-ai"})
    with pytest.raises(providers.ProviderError, match="no Workers AI binding"):
        await _collect(provider, {"messages": MESSAGES})
