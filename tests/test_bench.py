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
