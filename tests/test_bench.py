"""The benchmark command runs and prints `name: value` lines with ratios (figures are
not judged here: these machines are shared and noisy)."""

import re
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_quick_prints_name_value_lines_with_ratios():
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "pyodide,d1,profile,resilience,lti"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines and all(re.fullmatch(r"[a-z0-9_]+: -?[0-9.e+-]+", line) for line in lines), lines
    names = {line.split(":")[0] for line in lines}
    for expected in ("d1_binding_overhead_ratio", "profile_get_vs_sqlite3_ratio", "breaker_cache_overhead_ratio",
                     "profile_read_kv_breaker_open_p50_us", "launch_validation_vs_pylti1p3_ratio",
                     "launch_cpu_p99_ms", "launch_worker_cpu_p99_ms", "pyodide_factor", "launch_pyodide_factor",
                     "launch_worker_cpu_p99_at_pyodide_ms", "launch_cpu_cap_headroom_ratio",
                     "api_profile_d1_round_trips", "pyodide_launch_claims_ratio"):
        assert expected in names


async def test_bench_learner_group_measures_update_and_answer_cpu_with_budget_ratios():
    # The eval-throughput part (pyBKT on the shipped file) takes minutes; it runs in the
    # full bench only. Here: the two CPU measurements, in quick mode.
    import logging
    import shutil

    from bench import BenchRun
    from bench.learner import responses_cpu, update_cpu

    logger = logging.getLogger("atomic_guide.db")
    saved = (logger.propagate, list(logger.handlers))
    run = BenchRun(quick=True)
    try:
        figures = dict(update_cpu(run) + await responses_cpu(run))
    finally:
        logger.propagate, logger.handlers[:] = saved[0], saved[1]
        shutil.rmtree(run.scratch, ignore_errors=True)
    assert set(figures) == {"learner_update_cpu_p50_us", "learner_update_cpu_p99_us",
                            "learner_update_cpu_budget_ratio_at_10x", "responses_cpu_p50_ms", "responses_cpu_p99_ms",
                            "responses_d1_round_trips", "responses_cpu_budget_ratio_at_10x"}
    assert figures["responses_d1_round_trips"] >= 2  # at least a read and the batch
    assert all(v > 0 for v in figures.values())


def test_bench_struggle_group_prints_its_figures():
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "struggle"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines and all(re.fullmatch(r"[a-z0-9_]+: -?[0-9.e+-]+", line) for line in lines), lines
    figures = dict(line.split(": ") for line in lines)
    for name in ("struggle_signals_per_s_one_object", "struggle_object_vs_raw_sqlite_time_ratio",
                 "struggle_batch10_cpu_p50_ms", "struggle_batch10_cpu_p99_ms", "struggle_decision_cpu_p99_us",
                 "struggle_flush_100_events_ms", "struggle_flush_100_events_d1_round_trips",
                 "struggle_flush_vs_raw_sqlite_time_ratio"):
        assert float(figures[name]) > 0, name


def test_bench_insights_group_measures_the_overview_at_two_class_sizes():
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "insights"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines and all(re.fullmatch(r"[a-z0-9_]+: -?[0-9.e+-]+", line) for line in lines), lines
    figures = {k: float(v) for k, v in (line.split(": ") for line in lines)}
    for name in ("insights_overview_cpu_p50_ms_300", "insights_overview_cpu_p99_ms_300",
                 "insights_overview_d1_round_trips_300", "insights_snapshot_cpu_ms_300",
                 "insights_overview_budget_ratio_at_10x_300", "insights_overview_growth_ratio"):
        assert figures[name] > 0, name
    # the page reads a snapshot: the same number of D1 round trips whatever the class size
    assert figures["insights_overview_d1_round_trips_300"] == figures["insights_overview_d1_round_trips_30"]


async def test_bench_practice_group_measures_selection_checking_and_the_answer_round_trip():
    import logging
    import shutil

    from bench import BenchRun
    from bench.practice import practice_group

    logger = logging.getLogger("atomic_guide.db")
    saved = (logger.propagate, list(logger.handlers))
    run = BenchRun(quick=True)
    try:
        figures = dict(await practice_group(run))
    finally:
        logger.propagate, logger.handlers[:] = saved[0], saved[1]
        shutil.rmtree(run.scratch, ignore_errors=True)
    for name in ("practice_selection_5000_items_cpu_p50_us", "practice_selection_5000_items_cpu_p99_us",
                 "practice_selection_vs_naive_sort_ratio", "practice_answer_check_cpu_p50_us",
                 "practice_answer_check_cpu_p99_us", "practice_next_item_cpu_p99_ms", "practice_answer_cpu_p50_ms",
                 "practice_answer_cpu_p99_ms", "practice_answer_wall_p99_ms", "practice_answer_d1_round_trips",
                 "practice_answer_vs_responses_route_cpu_ratio", "practice_answer_cpu_budget_ratio_at_10x"):
        assert figures[name] > 0, name
    assert figures["practice_answer_d1_round_trips"] >= 3  # reads, the answer's batch, the grade's batch
