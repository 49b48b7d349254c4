"""Fallback events (served from KV, breaker opened/closed, write refused): counted per
isolate and buffered as `metrics` rows, flushed to D1 once it answers again."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

log = logging.getLogger("atomic_guide.resilience")

MAX_BUFFERED = 1000


@dataclass
class FallbackEvents:
    counts: dict[str, int] = field(default_factory=dict)
    pending: list[tuple] = field(default_factory=list)  # (kind, name, value, detail_json, tenant_id)
    dropped: int = 0

    def record(self, kind: str, name: str, tenant_id: str | None = None, **detail) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        log.info(json.dumps({"event": name, "kind": kind, "tenant_id": tenant_id, **detail}))
        if len(self.pending) >= MAX_BUFFERED:
            self.pending.pop(0)
            self.dropped += 1  # counted, so the loss of detail is itself visible
        self.pending.append((kind, name, 1.0, json.dumps(detail), tenant_id))

    def take(self) -> list[tuple]:
        rows, self.pending = self.pending, []
        return rows

    def put_back(self, rows: list[tuple]) -> None:
        self.pending = (rows + self.pending)[-MAX_BUFFERED:]
