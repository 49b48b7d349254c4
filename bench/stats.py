"""Small statistics and output helpers shared by the groups."""

from __future__ import annotations

import gc
import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else float("inf")


def settle() -> None:
    """Called before a timed batch: collect garbage now rather than inside the batch."""
    gc.collect()


def fmt(value: float) -> str:
    """Four significant digits, never scientific notation: 812.3, 1.734, 0.01234, 12346."""
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    digits = max(0, 3 - math.floor(math.log10(abs(value))))
    return f"{value:.{digits}f}"
