"""Where the shells read the time. Pure decisions take `now` as an argument; the thin
async shells around them (routes, Durable Objects, jobs) ask this module, which uses the
runtime's clock unless the host put a `CLOCK` into `env` (the local host does, so a test
moves time for one host only, never by patching the process's clock)."""

from __future__ import annotations

import time
from typing import Any


def now(env: Any = None) -> float:
    """Seconds since the epoch."""
    clock = getattr(env, "CLOCK", None) if env is not None else None
    return clock.now() if clock is not None else time.time()


def now_ms(env: Any = None) -> int:
    return int(now(env) * 1000)


def monotonic(env: Any = None) -> float:
    """For intervals (breaker cool-downs, memo ages): never goes back."""
    clock = getattr(env, "CLOCK", None) if env is not None else None
    return clock.monotonic() if clock is not None else time.monotonic()
