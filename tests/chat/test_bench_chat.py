"""The chat benchmark group runs and prints its figures (values are not judged here)."""

import re
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_chat_prints_throughput_cpu_and_first_byte_figures():
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "chat"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines and all(re.fullmatch(r"[a-z0-9_]+: -?[0-9.e+-]+", line) for line in lines), lines
    names = {line.split(":")[0] for line in lines}
    for expected in ("chat_messages_per_s", "chat_tool_cpu_p50_ms", "chat_tool_cpu_p99_ms", "chat_worker_cpu_p99_ms",
                     "chat_object_cpu_p99_ms", "chat_ttfb_p50_ms", "chat_ttfb_vs_list_ratio",
                     "chat_send_vs_profile_get_cpu_ratio", "chat_d1_round_trips_per_message"):
        assert expected in names
