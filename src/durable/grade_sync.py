"""GradeSync: one object per practice activity (named tenant:activity) whose alarm sends the
activity's pending grades to the gradebook (practice/gradebook.py) and re-arms itself for
the retries. The grades waiting and their state live in D1 (activity_progress), so the
instructor sees them; the object keeps only which activity it is and its alarm."""

from __future__ import annotations

import clock
from db.database import DataUnavailable
from durable.base import DurableBase
from practice import gradebook


class GradeSync(DurableBase):
    async def schedule(self, tenant_id: str, d1_binding: str, activity_id: str, delay_ms: int = 0) -> dict:
        """Run the sync `delay_ms` from now (or earlier, if already due earlier)."""
        await self.ctx.storage.put("target", {"tenant_id": tenant_id, "d1_binding": d1_binding,
                                              "activity_id": activity_id})
        at = clock.now_ms(self.env) + max(0, int(delay_ms))
        current = await self.ctx.storage.getAlarm()
        if current is None or current > at:
            await self.ctx.storage.setAlarm(at)
            current = at
        return {"alarm_at": current}

    async def alarm(self, alarm_info=None) -> None:
        target = await self.ctx.storage.get("target")
        if not target:
            return
        now = clock.now_ms(self.env)
        try:
            again = await gradebook.sync_activity(self.env, target["tenant_id"], target["d1_binding"],
                                                  target["activity_id"], now)
        except DataUnavailable:
            again = now + gradebook.D1_RETRY_MS  # D1 is down: nothing was marked; look again shortly
        if again is not None:
            current = await self.ctx.storage.getAlarm()
            if current is None or current > again:
                await self.ctx.storage.setAlarm(max(again, now))
