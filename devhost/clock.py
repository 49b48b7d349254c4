"""The local host's clock, handed to the Worker as `env.CLOCK` (see src/clock.py) and to
the bindings that keep time (Durable Object alarms, KV expiry, R2 upload times).

`SystemClock` is the machine's, which a test may move forward for one host
(`advance`); `ManualClock` moves only when a test says so. Either way time comes into the
code under test through one host, never by patching the process's clock (which a server
thread or an alarm would also see). Listeners (alarm schedulers) hear every advance."""

from __future__ import annotations

import time
from typing import Callable


class _Advancing:
    def __init__(self) -> None:
        self._offset = 0.0
        self._listeners: list[Callable[[], None]] = []

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._offset += seconds
        for listener in list(self._listeners):
            listener()

    def on_advance(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)


class SystemClock(_Advancing):
    """The machine's time, plus whatever a test advanced this host by."""

    manual = False

    def now(self) -> float:
        return time.time() + self._offset

    def monotonic(self) -> float:
        return time.monotonic() + self._offset


class ManualClock(_Advancing):
    """Starts at `start` (default: the machine's time when built) and moves only by
    `advance()`, after which listeners (alarm schedulers) re-check what is due."""

    manual = True

    def __init__(self, start: float | None = None) -> None:
        super().__init__()
        self._start = time.time() if start is None else float(start)

    def now(self) -> float:
        return self._start + self._offset

    def monotonic(self) -> float:
        return self._offset
