"""The backups bench group runs and prints its figures (values are not judged here)."""

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.wrangler
def test_bench_backups_quick_prints_its_figures():
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "backups"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert all(re.fullmatch(r"[a-z0-9_]+: -?[0-9.e+-]+", line) for line in lines), lines
    figures = dict(line.split(": ") for line in lines)
    for name in ("backup_export_rows_per_s_base", "backup_export_peak_rss_mb_base", "backup_step_cpu_p99_ms_base",
                 "backup_step_own_cpu_p99_vs_limit_ratio_base", "backup_export_vs_wrangler_d1_export_time_ratio_base",
                 "backup_restore_rows_per_s_base"):
        assert name in figures
    assert float(figures["backup_export_rows_base"]) == 20_000
