"""health: requests/s and latency of GET /health on the local host over real HTTP on
loopback, against a trivial ASGI app served by the same uvicorn settings.

Each app runs in its own server process (so the load generator does not share the
server's interpreter); the load generator is raw asyncio streams, HTTP/1.1 keep-alive,
N concurrent connections sharing a fixed request count per repetition. The count is
calibrated from the warm-up so that one repetition lasts about `rep_seconds`."""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
import time

from bench import ROOT, BenchRun, group
from bench.stats import median, percentile, ratio, settle

PATH = "/health"


class Server:
    """`python -m bench.serve APP` as a child process; knows its port once started."""

    def __init__(self, app: str, state: str | None = None) -> None:
        cmd = [sys.executable, "-m", "bench.serve", app]
        if state:
            cmd += ["--state", state]
        self.app = app
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.port: int | None = None

    def wait_port(self, timeout: float = 60.0) -> int:
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError(f"{self.app} server did not start (exit code {self.proc.poll()})")
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(fd, 256)
                if not chunk:
                    continue
                buf += chunk
        self.port = int(buf.split(b"\n", 1)[0])
        return self.port

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


async def drive(port: int, path: str, count: int, clients: int) -> tuple[float, list[float]]:
    """Sends `count` GETs over `clients` keep-alive connections (opened before the clock
    starts); returns (elapsed seconds, per-request latencies in seconds). Any non-200
    answer is an error: a degraded /health would measure the wrong thing."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench\r\n\r\n".encode()
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]
    latencies: list[float] = []
    remaining = count
    bad: list[bytes] = []
    clock = time.perf_counter

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = clock()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = None
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                    break
            if length is None:
                raise RuntimeError(f"response without content-length: {head[:200]!r}")
            await reader.readexactly(length)
            latencies.append(clock() - started)
            if head[9:12] != b"200":
                bad.append(head.split(b"\r\n", 1)[0])

    try:
        started = clock()
        await asyncio.gather(*(worker(r, w) for r, w in conns))
        elapsed = clock() - started
    finally:
        for _, writer in conns:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for _, w in conns), return_exceptions=True)
    if bad:
        raise RuntimeError(f"{len(bad)} of {count} requests to {path} on :{port} failed, e.g. {bad[0]!r}")
    return elapsed, latencies


@group("health")
async def health(run: BenchRun) -> list[tuple[str, float]]:
    clients = run.pick(8, 8)
    reps = run.pick(7, 3)
    warmup = run.pick(400, 150)
    rep_seconds = run.pick(2.5, 1.0)
    min_count, max_count = run.pick((300, 50_000), (100, 20_000))

    servers = {"health": Server("health", str(run.tmpdir("health-state"))), "trivial": Server("trivial")}
    try:
        ports = {name: s.wait_port() for name, s in servers.items()}
        counts = {}
        for name in servers:  # warm-up (imports, caches, first DO instances) + calibration
            elapsed, _ = await drive(ports[name], PATH, warmup, clients)
            rate = warmup / elapsed
            counts[name] = max(min_count, min(max_count, int(rate * rep_seconds)))
        run.log(f"health: {clients} clients, {reps} reps, requests per rep {counts}")

        rps: dict[str, list[float]] = {n: [] for n in servers}
        p50: dict[str, list[float]] = {n: [] for n in servers}
        p99: dict[str, list[float]] = {n: [] for n in servers}
        order = list(servers)
        for rep in range(reps):
            for name in order if rep % 2 == 0 else order[::-1]:
                settle()
                elapsed, lat = await drive(ports[name], PATH, counts[name], clients)
                rps[name].append(counts[name] / elapsed)
                p50[name].append(percentile(lat, 50) * 1000)
                p99[name].append(percentile(lat, 99) * 1000)
    finally:
        for s in servers.values():
            s.stop()

    health_rps = median(rps["health"])
    trivial_rps = median(rps["trivial"])
    return [
        ("health_rps", health_rps),
        ("health_p50_ms", median(p50["health"])),
        ("health_p99_ms", median(p99["health"])),
        ("baseline_trivial_asgi_rps", trivial_rps),
        ("baseline_trivial_asgi_p50_ms", median(p50["trivial"])),
        ("baseline_trivial_asgi_p99_ms", median(p99["trivial"])),
        ("health_vs_trivial_ratio", ratio(health_rps, trivial_rps)),
    ]
