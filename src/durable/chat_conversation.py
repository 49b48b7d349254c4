"""ChatConversation: one object per AI Guide conversation; its transcript lives in the
object's SQLite storage, so turns are ordered and never interleave."""

from __future__ import annotations

import clock

from durable.base import DurableBase

MODEL = "@cf/meta/llama-3.1-8b-instruct"
HISTORY_TURNS = 12


class ChatConversation(DurableBase):
    def _table(self) -> None:
        self.ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS message (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " role TEXT NOT NULL CHECK (role IN ('user','assistant','system')),"
            " content TEXT NOT NULL, at_ms INTEGER NOT NULL)"
        )

    async def ask(self, content: str) -> dict:
        self._table()
        now = clock.now_ms(self.env)
        self.ctx.storage.sql.exec("INSERT INTO message (role, content, at_ms) VALUES ('user', ?, ?)", content, now)
        rows = self.ctx.storage.sql.exec(
            "SELECT role, content FROM message ORDER BY seq DESC LIMIT ?", HISTORY_TURNS
        ).toArray()
        messages = [{"role": "system", "content": "You are the Atomic Guide, a patient study tutor."}]
        messages += [{"role": r["role"], "content": r["content"]} for r in reversed(rows)]
        answer = await self.env.AI.run(MODEL, {"messages": messages})
        reply = str(answer.get("response", ""))
        self.ctx.storage.sql.exec(
            "INSERT INTO message (role, content, at_ms) VALUES ('assistant', ?, ?)", reply, clock.now_ms(self.env)
        )
        return {"reply": reply}

    async def history(self) -> list:
        self._table()
        return self.ctx.storage.sql.exec("SELECT role, content, at_ms FROM message ORDER BY seq").toArray()
