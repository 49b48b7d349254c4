"""Local Rate Limiting binding (`ratelimits` in wrangler.jsonc): `await limit({"key": k})`
answers `{"success": bool}` as workerd's does — a fixed window aligned to the clock,
`limit` requests per `period` (10 or 60 s) per key, a refused request not counted, the
same option checks and error texts (miniflare's ratelimit worker). Counts live in
memory, like Cloudflare's per-location counters."""

from __future__ import annotations

import time
from typing import Any, Callable

from ._common import FaultPlan

OPTION_KEYS = ("key", "limit", "period", "delta")
PERIODS = (10, 60)
MAX_UINT32 = 4294967295


class LocalRateLimiter:
    kind = "ratelimit"

    def __init__(self, binding: str, limit: int, period: int, faults: FaultPlan | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if period not in PERIODS:
            raise ValueError(f"unsupported period: {period}")
        self.binding = binding
        self.limit_value = int(limit)
        self.period = int(period)
        self._faults = faults or FaultPlan()
        self._clock = clock
        self._buckets: dict[tuple[str, int], tuple[int, int]] = {}  # (key, period) -> (epoch, count)

    @classmethod
    def from_config(cls, cfg, faults: FaultPlan, clock: Callable[[], float]) -> LocalRateLimiter:
        return cls(cfg.name, cfg.limit, cfg.period, faults, clock)

    async def limit(self, options: Any = None, **kwargs) -> dict:
        if kwargs:
            options = {**(options or {}), **kwargs}
        if not isinstance(options, dict):
            raise TypeError("invalid rate limit options")
        bad = [k for k in options if k not in OPTION_KEYS]
        if bad:
            raise TypeError(f"bad rate limit options: [{','.join(bad)}]")
        key = options.get("key", "")
        limit = options.get("limit", self.limit_value)
        period = options.get("period", self.period)
        if not isinstance(key, str):
            raise TypeError(f"invalid key: {key}")
        if isinstance(limit, bool) or not isinstance(limit, (int, float)):
            raise TypeError(f"limit must be a number: {limit}")
        if period not in PERIODS:
            raise TypeError(f"unsupported period: {period}")
        delta = _delta(options.get("delta", 1))
        await self._faults.gate(self.binding, "limit", "RateLimitError")
        epoch = int(self._clock() // period)
        bucket = self._buckets.get((key, period))
        if bucket is not None and bucket[0] == epoch:
            count = bucket[1]
        else:
            count = 0
            # Windows roll over together: drop this period's stale counters.
            for k in [k for k, (e, _) in self._buckets.items() if k[1] == period and e != epoch]:
                del self._buckets[k]
        if count >= limit:
            return {"success": False}
        self._buckets[(key, period)] = (epoch, count + delta)
        return {"success": True}


def _delta(value: Any) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError("The value cannot be converted because it is not an integer.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise TypeError("The value cannot be converted because it is not an integer.")
    if number < 0:
        raise TypeError("The value cannot be converted because it is negative and this API expects a positive number.")
    if number > MAX_UINT32:
        raise TypeError(f"Value out of range. Must be less than or equal to {MAX_UINT32}.")
    if int(number) == 0:
        raise ValueError("delta must be non-zero")
    return int(number)
