"""The Guide's limits as pure decisions: message sizes, the per-learner message rate, the
chat settings in force (tenant, course and learner layers over the deployment's
defaults), token budgets per conversation and per day (tenant, course, learner), cost
units, and the provider retry schedule. Time comes in as `now` (seconds since epoch)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

LEARNER_MESSAGE_MAX_CHARS = 5000
REPLY_MAX_CHARS = 6000  # a reply is cut here (and stored so), far below SQLite's row limits
MAX_MESSAGES_PER_CONVERSATION = 2000
RATE_LIMIT_MESSAGES = 10
RATE_WINDOW_MS = 60_000

PROVIDERS = ("auto", "workers-ai", "offline")
DEFAULT_MODEL = "@cf/meta/llama-3.1-8b-instruct"

# The deployment's defaults (wrangler.jsonc vars of the same names override them); the
# tenant's administrator overrides them per tenant, course and learner (chat_settings).
DEFAULTS: dict[str, object] = {
    "provider": "auto",
    "model": DEFAULT_MODEL,
    "tenant_daily_tokens": 2_000_000,
    "course_daily_tokens": 500_000,
    "learner_daily_tokens": 60_000,
    "conversation_tokens": 200_000,
    "prompt_budget_tokens": 3_000,
    "reply_max_tokens": 600,
    # Cost units per 1,000 tokens (Workers AI bills in neurons per model; set these to
    # the model's rates to see spend in the same unit as the bill).
    "prompt_cost_per_1k": 1.0,
    "completion_cost_per_1k": 1.0,
    "instructor_transcripts": False,
}
ENV_VARS = {"provider": "CHAT_PROVIDER", "model": "CHAT_MODEL", "tenant_daily_tokens": "CHAT_TENANT_DAILY_TOKENS",
            "course_daily_tokens": "CHAT_COURSE_DAILY_TOKENS", "learner_daily_tokens": "CHAT_LEARNER_DAILY_TOKENS",
            "conversation_tokens": "CHAT_CONVERSATION_TOKENS"}
# What each layer of chat_settings may set.
TENANT_KEYS = frozenset(DEFAULTS)
COURSE_KEYS = frozenset({"course_daily_tokens", "learner_daily_tokens"})
LEARNER_KEYS = frozenset({"learner_daily_tokens"})


class LimitError(ValueError):
    """A value a client sent that the limits refuse (the caller answers 422)."""


def learner_message(text: object) -> str:
    """The learner's message as stored: stripped, 1..5,000 characters."""
    if not isinstance(text, str):
        raise LimitError("The message must be text.")
    cleaned = text.replace("\r\n", "\n").strip()
    if not cleaned:
        raise LimitError("The message is empty.")
    if len(cleaned) > LEARNER_MESSAGE_MAX_CHARS:
        raise LimitError(f"Messages are limited to {LEARNER_MESSAGE_MAX_CHARS} characters.")
    return cleaned


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_s: int
    window: list[int]  # the send times (ms) to keep, including this one when allowed


def rate_decision(sent_ms: list[int], now_ms: int, limit: int = RATE_LIMIT_MESSAGES,
                  window_ms: int = RATE_WINDOW_MS) -> RateDecision:
    """A sliding window, exact: allowed while fewer than `limit` sends happened in the last
    `window_ms`; otherwise Retry-After is when the oldest of them leaves the window."""
    recent = sorted(t for t in sent_ms if now_ms - window_ms < t <= now_ms)
    if len(recent) < limit:
        return RateDecision(True, 0, [*recent, now_ms])
    frees_at = recent[-limit] + window_ms
    return RateDecision(False, max(1, math.ceil((frees_at - now_ms) / 1000)), recent)


def _int_var(value: object, fallback: int) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return fallback
    return number if number >= 0 else fallback


def deployment_defaults(env_vars: dict) -> dict:
    """DEFAULTS with the deployment's vars applied (a bad var keeps the default)."""
    out = dict(DEFAULTS)
    for key, var in ENV_VARS.items():
        raw = env_vars.get(var)
        if raw in (None, ""):
            continue
        if isinstance(DEFAULTS[key], int) and not isinstance(DEFAULTS[key], bool):
            out[key] = _int_var(raw, int(DEFAULTS[key]))
        elif key == "provider":
            out[key] = raw if raw in PROVIDERS else DEFAULTS[key]
        else:
            out[key] = str(raw)[:200]
    return out


def effective_settings(defaults: dict, tenant: dict | None, course: dict | None, learner: dict | None) -> dict:
    """The settings in force for one learner in one course: the tenant's row over the
    deployment's defaults, then the course's budgets, then the learner's. A layer sets
    only the keys it may (TENANT_KEYS, COURSE_KEYS, LEARNER_KEYS)."""
    out = dict(defaults)
    for layer, allowed in ((tenant, TENANT_KEYS), (course, COURSE_KEYS), (learner, LEARNER_KEYS)):
        for key, value in (layer or {}).items():
            if key in allowed and value is not None:
                out[key] = value
    return out


def day_of(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def seconds_to_next_day(now: float) -> int:
    return max(1, 86_400 - int(now) % 86_400)


def turn_ceiling(settings: dict) -> int:
    """The most one turn can cost: a full prompt and the longest reply."""
    return int(settings["prompt_budget_tokens"]) + int(settings["reply_max_tokens"])


@dataclass(frozen=True)
class BudgetDecision:
    allowed: bool
    limit: str | None = None  # conversation | learner_day | course_day | tenant_day
    message: str = ""
    retry_after_s: int | None = None
    remaining: dict | None = None


_BUDGET_ORDER = (
    ("conversation", "conversation_tokens", "conversation", "This conversation has used its token budget. "
                                                           "Start a new conversation to keep going."),
    ("learner_day", "learner_daily_tokens", "learner", "You have used today's Guide budget. It renews at "
                                                      "midnight UTC; your messages so far are saved."),
    ("course_day", "course_daily_tokens", "course", "Your course has used today's Guide budget. It renews at "
                                                    "midnight UTC."),
    ("tenant_day", "tenant_daily_tokens", "tenant", "Your institution has used today's Guide budget. It renews "
                                                    "at midnight UTC."),
)


def budget_decision(used: dict, settings: dict, now: float) -> BudgetDecision:
    """Admits a turn only if its largest possible cost still fits every budget, so the
    budgets are never exceeded by a turn this check admitted. `used` has the tokens
    already spent: conversation, learner (today), course (today), tenant (today)."""
    ceiling = turn_ceiling(settings)
    remaining = {}
    for limit, setting, used_key, message in _BUDGET_ORDER:
        left = int(settings[setting]) - int(used.get(used_key, 0))
        remaining[limit] = max(0, left)
        if left < ceiling:
            retry = None if limit == "conversation" else seconds_to_next_day(now)
            return BudgetDecision(False, limit, message, retry, remaining)
    return BudgetDecision(True, remaining=remaining)


def cost_units(prompt_tokens: int, completion_tokens: int, settings: dict, provider: str) -> float:
    """What a turn costs in the tenant's units; the offline provider costs nothing."""
    if provider == "offline":
        return 0.0
    value = (prompt_tokens * float(settings["prompt_cost_per_1k"])
             + completion_tokens * float(settings["completion_cost_per_1k"])) / 1000
    return round(value, 6)


def backoff_ms(attempt: int, base_ms: int) -> int:
    """Wait before retry `attempt` (1-based) of a failed provider call: base * 2^(n-1)."""
    return int(base_ms) * 2 ** max(0, attempt - 1)
