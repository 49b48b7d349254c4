"""The per-learner message rate of the Guide, counted exactly in one Durable Object per
learner (named `<tenant>:learner:<profile id>` in CHAT_CONVERSATIONS; conversation
objects are named by tenant and conversation id, so the two never meet).

Why an object and not the platform's rate-limit binding: the limit is a promise to one
learner (10 messages a minute, wherever they send from and in however many
conversations) with an exact Retry-After, while the binding counts per Cloudflare
location and approximately. One object per learner serializes that learner's sends and
keeps the send times it needs (at most `limit` rows)."""

from __future__ import annotations

import clock
from chat.limits import RATE_LIMIT_MESSAGES, RATE_WINDOW_MS, rate_decision


class LearnerRateGate:
    ctx: object
    env: object

    def _rate_table(self) -> None:
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS chat_send (at_ms INTEGER NOT NULL)")

    async def admit(self, limit: int = RATE_LIMIT_MESSAGES, window_ms: int = RATE_WINDOW_MS) -> dict:
        """Counts one message if the learner is under the limit: {"allowed", "retry_after_s"}."""
        self._rate_table()
        now = clock.now_ms(self.env)
        sent = [r["at_ms"] for r in self.ctx.storage.sql.exec("SELECT at_ms FROM chat_send").toArray()]
        decision = rate_decision(sent, now, int(limit), int(window_ms))
        self.ctx.storage.sql.exec("DELETE FROM chat_send")
        for at in decision.window[-int(limit):]:
            self.ctx.storage.sql.exec("INSERT INTO chat_send (at_ms) VALUES (?)", at)
        return {"allowed": decision.allowed, "retry_after_s": decision.retry_after_s}
