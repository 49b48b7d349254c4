"""Benchmarks of Atomic Guide's local stack: `python -m bench [--quick] [--only NAME]`.

Stdout carries only `name: value` lines, one per figure, units in the name (`_rps`,
`_ms`, `_us`); every comparison is a `_ratio` against a baseline measured in the same
run, never against a number from another machine or day. Progress and parameters go to
stderr. The machines are shared and noisy, so every figure comes from warm-ups, several
repetitions (subject and baseline interleaved) and medians.

Groups (GROUPS: name -> function(BenchRun) -> list of (name, value), sync or async):
  pyodide  the hot pure functions on CPython and under real Pyodide (Node), per call, and
           the ratio; the largest ratio is `pyodide_factor`, the factor every CPU-cap
           estimate below multiplies by (measured in the same run)
  health   GET /health over real HTTP on loopback vs a trivial ASGI app, same server
  d1       the local D1 binding vs raw sqlite3 on a copy of the same file
  profile  learner-profile create/get/update through the data layer vs the same SQL
           on raw sqlite3
  lti      launch id_token validation vs PyLTI1p3 on the same token; CPU per launch
           (POST /lti/launch + GET /app) through entry.py and the SDK, the Worker's own
           share x pyodide_factor against limits.cpu_ms, D1 round trips per request
  backups  nightly export / restore of a synthetic tenant (100k rows; --rows N adds a
           run at N, e.g. 1000000): rows/s, peak RSS, CPU per step vs limits.cpu_ms,
           ratio to `wrangler d1 export --local` on the same database
  learner  CPU per answer update (pure functions) and per POST /api/responses against
           limits.cpu_ms; scripts/learner-model eval throughput vs pyBKT fit+evaluate
  chat     the AI Guide with the offline provider through one conversation object:
           messages/s, CPU per message (the tool's own, without the model's share;
           p50/p99) against limits.cpu_ms, D1 round trips per turn, and time to the
           first streamed byte over real HTTP
  practice next-item selection over 5,000 items (state from 10,000 responses) vs a naive
           sort; answer checking vs plain equality; GET next / POST answers through the
           app (p50/p99 CPU and wall, D1 round trips) vs POST /api/responses
To add a group: a module in bench/ with a function decorated `@group("name")`, and the
module's name appended to GROUP_MODULES.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
# src/ is the Worker's module root (main = src/entry.py); the repo root holds devhost/.
for _p in (str(ROOT), str(SRC)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

Figure = tuple[str, float]
GroupFn = Callable[["BenchRun"], "list[Figure]"]  # or an async function returning the same

GROUPS: dict[str, GroupFn] = {}
GROUP_MODULES = ["bench.pyodide", "bench.health", "bench.d1", "bench.profile", "bench.resilience", "bench.lti",
                 "bench.backups", "bench.learner", "bench.struggle", "bench.insights", "bench.chat",
                 "bench.practice"]


def group(name: str) -> Callable[[GroupFn], GroupFn]:
    """Registers a benchmark group under `name` (run order = registration order)."""

    def register(fn: GroupFn) -> GroupFn:
        if name in GROUPS:
            raise ValueError(f"benchmark group {name!r} registered twice")
        GROUPS[name] = fn
        return fn

    return register


def load_groups() -> dict[str, GroupFn]:
    for module in GROUP_MODULES:
        importlib.import_module(module)
    return GROUPS


@dataclass
class BenchRun:
    """What a group gets: the mode, the repo root and a scratch directory of its own."""

    quick: bool = False
    rows: int | None = None  # --rows: an extra, larger run of the groups that take it
    root: Path = ROOT
    scratch: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="atomic-bench-")))

    def pick(self, full, quick):
        """The full-run or the --quick value of a parameter."""
        return quick if self.quick else full

    def log(self, message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    def tmpdir(self, name: str) -> Path:
        path = self.scratch / name
        path.mkdir(parents=True, exist_ok=True)
        return path
