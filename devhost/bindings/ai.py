"""Local stand-in for the Workers AI binding.

A MOCK, and it says so: Workers AI runs models on Cloudflare's GPUs and cannot run on
this machine. It answers `run(model, inputs)` in the shape text-generation models use
(`{"response": str}`) with a deterministic reply, so that code paths around the model
(prompting, storing, streaming-free responses) are exercised for real.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

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

    async def run(self, model: str, inputs: dict, options: dict | None = None) -> dict:
        if not isinstance(model, str) or not model:
            raise TypeError("AI.run: model name must be a non-empty string")
        if not isinstance(inputs, dict):
            raise TypeError("AI.run: inputs must be an object")
        await self._faults.gate(self.binding, "run", "AiError")
        self.calls.append({"model": model, "inputs": inputs})
        messages = inputs.get("messages") or [{"role": "user", "content": inputs.get("prompt", "")}]
        last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        tag = hashlib.sha256(f"{model}\x00{last}".encode()).hexdigest()[:8]
        return {
            "response": f"[local AI stand-in {tag}] Let's work through this step by step: {last[:200]}",
            "usage": {"prompt_tokens": sum(len(str(m.get("content", ""))) // 4 for m in messages), "completion_tokens": 24},
        }
