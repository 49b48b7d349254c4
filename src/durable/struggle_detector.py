"""StruggleDetector: one object per learner session; keeps recent behavioural signals
and scores struggle with a pure function, so the decision is testable without storage."""

from __future__ import annotations

import json
import clock

from durable.base import DurableBase

WINDOW = 50


def struggle_score(signals: list[dict]) -> float:
    """0..1 from recent signals: long hovers/idle, repeated errors, fast re-reads."""
    if not signals:
        return 0.0
    recent = signals[-WINDOW:]
    errors = sum(1 for s in recent if s.get("kind") == "error")
    rereads = sum(1 for s in recent if s.get("kind") == "reread")
    long_pauses = sum(1 for s in recent if s.get("kind") == "hover" and float(s.get("ms", 0)) > 8000)
    raw = 0.5 * min(errors / 3, 1) + 0.3 * min(rereads / 4, 1) + 0.2 * min(long_pauses / 3, 1)
    return round(min(raw, 1.0), 3)


class StruggleDetector(DurableBase):
    def _table(self) -> None:
        self.ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS signal (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " at_ms INTEGER NOT NULL, body TEXT NOT NULL)"
        )

    async def record(self, signals: list) -> dict:
        self._table()
        now = clock.now_ms(self.env)
        for s in signals:
            self.ctx.storage.sql.exec("INSERT INTO signal (at_ms, body) VALUES (?, ?)", now, json.dumps(s))
        rows = self.ctx.storage.sql.exec(
            "SELECT body FROM signal ORDER BY seq DESC LIMIT ?", WINDOW
        ).toArray()
        recent = [json.loads(r["body"]) for r in reversed(rows)]
        score = struggle_score(recent)
        return {"score": score, "struggling": score >= 0.6, "signals": len(recent)}
