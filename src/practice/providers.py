"""Model providers that draft items from course text, behind one interface
(`await provider.draft(text, kind, concepts) -> list[dict]` of import-format items):
Workers AI at the edge (`env.AI.run`, the model configurable per tenant) and the offline
provider (practice/drafting.py, a deterministic algorithm; used locally and in tests).
Which one a tenant uses: its `ai_model_settings` row for 'drafting', else the Worker's
DRAFTING_PROVIDER var (wrangler.jsonc: workers-ai; .dev.vars locally: offline)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from practice import drafting
from practice.items import validate

PROVIDERS = ("workers-ai", "offline")
DEFAULT_WORKERS_AI_MODEL = "@cf/meta/llama-3.1-8b-instruct"
MAX_REPLY_TOKENS = 2048


class DraftingError(Exception):
    """The provider could not draft (unreachable, or its answer held no usable item)."""


@dataclass(frozen=True)
class OfflineDrafter:
    name: str = "offline"
    model: str = drafting.ALGORITHM

    async def draft(self, text: str, kind: str, concepts: list[tuple[str, str]]) -> list[dict]:
        return drafting.draft(text, kind, concepts)


def _prompt(text: str, kind: str, concepts: list[tuple[str, str]]) -> list[dict]:
    shape = ('{"format": "fill_blank", "concept": "<concept id>", "prompt": "<a sentence with ___ for the gap>", '
             '"answers": ["<accepted answer>", "..."], "difficulty": 1-10, "hints": ["<gentle>", "<stronger>"], '
             '"misconceptions": [{"answer": "<a typical wrong answer>", "feedback": "<why it is wrong>"}]}'
             if kind == "fill_blank" else
             '{"format": "flashcard", "concept": "<concept id>", "front": "<term or question>", '
             '"back": "<definition or answer>", "difficulty": 1-10}')
    listing = "; ".join(f"{cid} ({name})" for cid, name in concepts)
    system = ("You write practice items for students from an instructor's course text. Use only facts stated in "
              "the text. Answer with a JSON array of items and nothing else. Each item: " + shape +
              f". The concept is one of: {listing}. At most {drafting.MAX_DRAFT_ITEMS} items.")
    return [{"role": "system", "content": system}, {"role": "user", "content": text[:drafting.MAX_TEXT]}]


def parse_reply(reply: str, kind: str, concepts: list[tuple[str, str]]) -> list[dict]:
    """The usable items of a model's reply: the JSON array in it, each item validated as an
    import row would be, of the asked kind and for one of the activity's concepts."""
    match = re.search(r"\[.*\]", reply or "", re.S)
    if match is None:
        return []
    try:
        raw = json.loads(match.group(0))
    except json.JSONDecodeError:
        return []
    ids = {cid for cid, _ in concepts}
    out = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict):
            continue
        entry = {k: v for k, v in entry.items() if k in ("format", "concept", "prompt", "answers", "front", "back",
                                                         "difficulty", "hints", "misconceptions")}
        spec, problems = validate(entry)
        if spec is None or spec.format != kind or spec.concept not in ids:
            continue
        out.append({k: v for k, v in spec.as_document().items() if k not in ("ref", "approved")})
    return out[:drafting.MAX_DRAFT_ITEMS]


@dataclass(frozen=True)
class WorkersAIDrafter:
    ai: object
    model: str = DEFAULT_WORKERS_AI_MODEL
    name: str = "workers-ai"

    async def draft(self, text: str, kind: str, concepts: list[tuple[str, str]]) -> list[dict]:
        try:
            answer = await self.ai.run(self.model, {"messages": _prompt(text, kind, concepts),
                                                    "max_tokens": MAX_REPLY_TOKENS})
        except Exception as exc:
            raise DraftingError(f"Workers AI ({self.model}) did not answer: {type(exc).__name__}") from None
        reply = answer.get("response", "") if isinstance(answer, dict) else str(answer)
        if not isinstance(reply, str):
            reply = json.dumps(reply)
        items = parse_reply(reply, kind, concepts)
        if not items:
            raise DraftingError(f"Workers AI ({self.model}) answered without a usable item; try again or "
                                "use the offline drafter.")
        return items


def provider_for(env, provider: str | None, model: str | None):
    """The drafter for a tenant's setting (None: the Worker's default)."""
    chosen = provider or str(getattr(env, "DRAFTING_PROVIDER", None) or "workers-ai")
    if chosen == "offline":
        return OfflineDrafter()
    ai = getattr(env, "AI", None)
    if ai is None:
        raise DraftingError("No Workers AI binding (AI) is configured.")
    return WorkersAIDrafter(ai, model or DEFAULT_WORKERS_AI_MODEL)
