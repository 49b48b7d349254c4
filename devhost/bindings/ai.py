"""Local stand-in for the Workers AI binding.

A MOCK, and it says so (`is_stand_in = True`, and every reply starts "[local AI
stand-in ...]"): Workers AI runs models on Cloudflare's GPUs and cannot run on this
machine. It answers `run(model, inputs)` in the shapes text-generation models use, with
a deterministic reply, so that the code around the model (prompting, storing, streaming,
retries, accounting) is exercised for real:

- without `stream`: `{"response": str, "usage": {...}}`;
- with `"stream": True`: a ReadableStream of server-sent events, as Workers AI answers —
  `data: {"response": "<piece>"}` frames (one token-like piece each; some frames split
  across two reads, as the network splits them), a last frame with `usage`, then
  `data: [DONE]`. Read it with `getReader()` and `await reader.read()` ->
  `{"done": bool, "value": bytes}`.

Faults (FaultPlan) apply to `run` (the request) and to `stream` (each read of a
stream), so a test can fail a request, or break or crash a stream after N reads.
`calls` records every request: how many times a model was asked."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from ._common import FaultPlan


class LocalAI:
    kind = "ai"
    is_stand_in = True

    def __init__(self, binding: str, faults: FaultPlan | None = None) -> None:
        self.binding = binding
        self._faults = faults or FaultPlan()
        self.calls: list[dict] = []

    @classmethod
    def from_config(cls, binding: str, state_root: Path, faults: FaultPlan) -> LocalAI:
        return cls(binding, faults)

    def _reply(self, model: str, messages: list) -> str:
        last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        tag = hashlib.sha256(f"{model}\x00{last}".encode()).hexdigest()[:8]
        return f"[local AI stand-in {tag}] Let's work through this step by step: {last[:200]}"

    async def run(self, model: str, inputs: dict, options: dict | None = None):
        if not isinstance(model, str) or not model:
            raise TypeError("AI.run: model name must be a non-empty string")
        if not isinstance(inputs, dict):
            raise TypeError("AI.run: inputs must be an object")
        await self._faults.gate(self.binding, "run", "AiError")
        self.calls.append({"model": model, "inputs": inputs})
        messages = inputs.get("messages") or [{"role": "user", "content": inputs.get("prompt", "")}]
        text = self._reply(model, messages)
        usage = {"prompt_tokens": sum(len(str(m.get("content", ""))) // 4 for m in messages),
                 "completion_tokens": len(text) // 4}
        if not inputs.get("stream"):
            return {"response": text, "usage": usage}
        return LocalReadableStream(_sse_reads(text, usage), self._faults, self.binding)


def _sse_reads(text: str, usage: dict) -> list[bytes]:
    frames = [f"data: {json.dumps({'response': piece})}\n\n".encode() for piece in re.findall(r"\s*\S+", text)]
    frames.append(f"data: {json.dumps({'response': '', 'usage': usage})}\n\n".encode())
    frames.append(b"data: [DONE]\n\n")
    reads: list[bytes] = []
    for i, frame in enumerate(frames):
        if i % 3 == 2 and len(frame) > 8:  # a frame split across two reads
            reads += [frame[:7], frame[7:]]
        else:
            reads.append(frame)
    return reads


class LocalReadableStream:
    """The part of a JS ReadableStream the Python SDK exposes: getReader(), cancel()."""

    def __init__(self, reads: list[bytes], faults: FaultPlan, binding: str) -> None:
        self._reads = reads
        self._faults = faults
        self._binding = binding
        self.cancelled = False

    def getReader(self) -> LocalStreamReader:
        return LocalStreamReader(self)

    async def cancel(self, reason=None) -> None:
        self.cancelled = True
        self._reads = []


class LocalStreamReader:
    def __init__(self, stream: LocalReadableStream) -> None:
        self._stream = stream

    async def read(self) -> dict:
        stream = self._stream
        if stream.cancelled or not stream._reads:
            return {"done": True, "value": None}
        await stream._faults.gate(stream._binding, "stream", "AiError")
        return {"done": False, "value": stream._reads.pop(0)}

    async def cancel(self, reason=None) -> None:
        await self._stream.cancel(reason)

    def releaseLock(self) -> None:
        return None
