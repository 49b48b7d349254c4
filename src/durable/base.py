"""What every Durable Object of ours shares. On Cloudflare, workers.DurableObject sets
`self.ctx` and `self.env`; on the local host, the stand-in does the same."""

from __future__ import annotations


class DurableBase:
    ctx: object
    env: object

    async def ping(self) -> str:
        """Health probe: proves the object can be reached and its storage answers."""
        self.ctx.storage.sql.exec("SELECT 1").toArray()
        return "pong"
