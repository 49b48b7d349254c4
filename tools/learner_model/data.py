"""Response logs in the ASSISTments layout: `user_id,skill_name,correct` and optionally
`order_id`, `response_time_ms`, `hints`; rows in time order per learner."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

REQUIRED = ("user_id", "skill_name", "correct")


class DataError(Exception):
    """The file cannot be used; the message names the file, line and column."""


@dataclass(frozen=True, slots=True)
class Row:
    learner: str
    concept: str
    credit: float
    response_time_s: float | None = None
    hints: int = 0


def read_rows(path: str | Path, limit: int | None = None) -> list[Row]:
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: empty file (expected a header with {', '.join(REQUIRED)})")
        names = [h.strip() for h in header]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)} (have {', '.join(names)})")
        iu, ic, iy = (names.index(c) for c in REQUIRED)
        it = names.index("response_time_ms") if "response_time_ms" in names else None
        ih = names.index("hints") if "hints" in names else None
        rows: list[Row] = []
        for line, rec in enumerate(reader, start=2):
            if not rec or all(not f.strip() for f in rec):
                continue
            if len(rec) < len(names):
                raise DataError(f"{path}:{line}: {len(rec)} fields, the header has {len(names)}")
            try:
                credit = float(rec[iy])
            except ValueError:
                raise DataError(f"{path}:{line}: correct={rec[iy]!r} is not a number") from None
            if not 0.0 <= credit <= 1.0:
                raise DataError(f"{path}:{line}: correct={rec[iy]!r} is outside [0, 1]")
            rt = None
            if it is not None and rec[it].strip():
                try:
                    rt = float(rec[it]) / 1000.0
                except ValueError:
                    raise DataError(f"{path}:{line}: response_time_ms={rec[it]!r} is not a number") from None
                if rt < 0 or not math.isfinite(rt):
                    rt = None  # ASSISTments logs carry negative times; unknown, not an error
            hints = 0
            if ih is not None and rec[ih].strip():
                try:
                    hints = max(0, int(float(rec[ih])))
                except ValueError:
                    raise DataError(f"{path}:{line}: hints={rec[ih]!r} is not a number") from None
            learner, concept = rec[iu].strip(), rec[ic].strip()
            if not learner or not concept:
                raise DataError(f"{path}:{line}: empty user_id or skill_name")
            rows.append(Row(learner, concept, credit, rt, hints))
            if limit is not None and len(rows) >= limit:
                break
    if not rows:
        raise DataError(f"{path}: no response rows")
    return rows
