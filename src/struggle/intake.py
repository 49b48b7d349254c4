"""What the detector accepts from a page (pure): plausible signal times, and the exact
per-session rate limit (a sliding minute counted in the session's own object)."""

from __future__ import annotations

import math

MAX_BATCH = 30                    # signals per POST /api/signals
MAX_AGE_MS = 15 * 60 * 1000       # a signal older than this (page clock vs server) is refused
MAX_LEAD_MS = 2 * 60 * 1000       # and one this far in the future
MAX_DURATION_MS = 3600 * 1000     # no single dwell, idle or scroll lasts over an hour
RATE_WINDOW_MS = 60_000


def chat_signal_rows(signals: list[dict], conversation_id: str, at_ms: int) -> list[dict]:
    """The detector's signal rows for what the Guide made of one learner message
    (chat/signals.py): always one "chat" row (talking to the Guide is asking for help),
    plus one per confusion expressed and per concept asked about again and again. The
    concept is the name the conversation used; the conversation id is the evidence."""
    touched = next((s.get("concepts") or [] for s in signals if s.get("kind") == "chat_concepts"), [])
    conversation = str(conversation_id)[:64]
    rows = [{"type": "chat", "t": at_ms, "target": str(touched[0])[:200] if touched else None, "ms": 0, "dy_px": 0,
             "help": conversation, "words": 0}]
    for s in signals:
        concept = s.get("concept")
        target = None if concept is None else str(concept)[:200]
        if s.get("kind") == "chat_confusion":
            rows.append({"type": "chat_confusion", "t": at_ms, "target": target, "ms": 0, "dy_px": 0,
                         "help": conversation, "words": 0})
        elif s.get("kind") == "chat_repeated_question":
            rows.append({"type": "chat_repeated", "t": at_ms, "target": target, "ms": 0, "dy_px": 0,
                         "help": conversation, "words": max(0, min(int(s.get("count") or 0), 1000))})
    return rows


def implausible_times(times: list[int], now_ms: int) -> list[int]:
    """Indexes of signal times too far in the past or the future of the server's clock."""
    return [i for i, t in enumerate(times) if t < now_ms - MAX_AGE_MS or t > now_ms + MAX_LEAD_MS]


def admit(intake: list[tuple[int, int]], n_new: int, now_ms: int, limit: int) -> tuple[bool, int]:
    """Sliding-window limit of `limit` signals per minute. `intake` holds (received_ms,
    count) of the batches accepted so far. Returns (admitted, retry_after_s): when refused,
    the whole seconds until enough of the window has expired for this batch to fit."""
    live = sorted((t, n) for t, n in intake if t > now_ms - RATE_WINDOW_MS)
    used = sum(n for _, n in live)
    if used + n_new <= limit:
        return True, 0
    excess = used + n_new - limit
    freed = 0
    for t, n in live:
        freed += n
        if freed >= excess:
            return False, max(1, math.ceil((t + RATE_WINDOW_MS - now_ms) / 1000))
    return False, RATE_WINDOW_MS // 1000  # a batch larger than the limit never fits
