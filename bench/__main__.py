"""python -m bench [--quick] [--only NAME[,NAME]] [--list]

Runs the benchmark groups (all by default, a few minutes; --quick about a minute) and prints
`name: value` lines on stdout. Exit status 1 if any group failed (its traceback on
stderr; the other groups still run), 2 on a bad argument."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import shutil
import sys
import time
import traceback

from bench import BenchRun, load_groups
from bench.stats import fmt


def main(argv: list[str] | None = None) -> int:
    groups = load_groups()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="short run (smoke test): fewer, shorter repetitions")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help=f"run only these groups (repeatable or comma-separated): {', '.join(groups)}")
    parser.add_argument("--list", action="store_true", help="list the groups and exit")
    parser.add_argument("--rows", type=int, help="backups: also measure a tenant of this many rows (e.g. 1000000)")
    args = parser.parse_args(argv)
    if args.list:
        for name, fn in groups.items():
            doc = " ".join((inspect.getmodule(fn).__doc__ or name).split("\n\n")[0].split())
            print(doc if doc.startswith(f"{name}:") else f"{name}: {doc}")
        return 0
    selected = list(groups)
    if args.only:
        selected = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
        unknown = [n for n in selected if n not in groups]
        if unknown:
            parser.error(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(groups)}")

    run = BenchRun(quick=args.quick, rows=args.rows)
    run.log(f"mode {'quick' if args.quick else 'full'}; groups {', '.join(selected)}; python {sys.version.split()[0]}")
    failed = []
    started = time.perf_counter()
    try:
        for name in selected:
            t0 = time.perf_counter()
            fn = groups[name]
            try:
                figures = asyncio.run(fn(run)) if inspect.iscoroutinefunction(fn) else fn(run)
            except Exception:
                failed.append(name)
                print(f"[bench] group {name} failed:", file=sys.stderr)
                traceback.print_exc()
                continue
            for figure, value in figures:
                print(f"{figure}: {fmt(value)}", flush=True)
            run.log(f"{name} took {time.perf_counter() - t0:.1f} s")
    finally:
        shutil.rmtree(run.scratch, ignore_errors=True)
    run.log(f"total {time.perf_counter() - started:.1f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
