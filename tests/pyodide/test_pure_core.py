"""The pure core under real Pyodide: every module in pure_modules.PURE_MODULES is
loaded from the working tree into Pyodide 0.28.3 (CPython 3.13 in WebAssembly, run by
Node offline) and into CPython, imported under the runtime's import-time rules (no
clock, randomness or I/O while its top level runs), and its cases must give identical
results in both. A pure module may import only the standard library, ALLOWED_PACKAGES
and other pure modules."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

from devhost.pyodide import driver, harness
from tests.pyodide.pure_modules import ALLOWED_PACKAGES, NOT_DECISIONS, PURE_MODULES

SRC = harness.SRC
PROBES = Path(__file__).with_name("probes")  # modules that break the rules on purpose


def payload(src: str, path: list[str]) -> dict:
    return {"src": src, "path": path, "modules": PURE_MODULES, "allowed_packages": sorted(ALLOWED_PACKAGES),
            "probes": []}


@pytest.fixture(scope="module")
async def runs() -> dict:
    """Pyodide: imports and cases, in Node (it starts in about two seconds). CPython: the
    imports in a fresh interpreter (a module's top level runs only once per process), the
    cases here in the test process, with the same driver code."""
    pyodide = harness.run_pyodide(harness.DRIVER, payload(harness.PYODIDE_SRC, [harness.PYODIDE_SITE]),
                                  sorted(ALLOWED_PACKAGES))
    cpython = harness.run_cpython(harness.DRIVER, {**payload(str(SRC), []),
                                                   "modules": {name: [] for name in PURE_MODULES}})
    cpython["cases"] = {name: [await driver.run_case(importlib.import_module(name), case) for case in cases]
                        for name, cases in PURE_MODULES.items()}
    return {"pyodide": pyodide, "cpython": cpython}


# Pure-Python packages present in this environment, standing in for what a pure module
# may one day need (fsrs): mounted into Pyodide from site-packages as ALLOWED_PACKAGES are.
PROBE_PACKAGES = ["sortedcontainers", "typing_extensions"]


@pytest.fixture(scope="module")
def probe_run() -> dict:
    """The rules' own check: modules written to break them, imported under Pyodide; and
    one that uses allowed packages mounted from the local environment."""
    request = {"src": "/app/probes", "path": [harness.PYODIDE_SITE], "allowed_packages": PROBE_PACKAGES,
               "modules": {"uses_allowed": ["ordered([3, 1, 2])"]},
               "probes": sorted(p.stem for p in PROBES.glob("*.py") if p.stem != "uses_allowed")}
    return harness.run_pyodide(harness.DRIVER, request, PROBE_PACKAGES, extra_mounts=[(PROBES, "/app/probes")])


def test_pyodide_runs_the_python_the_workers_runtime_runs(runs):
    assert runs["pyodide"]["platform"] == "emscripten" and runs["pyodide"]["python"] == "3.13.2"
    assert runs["cpython"]["python"].startswith("3.13.")


@pytest.mark.parametrize("module", sorted(PURE_MODULES))
def test_each_pure_module_loads_under_pyodide_with_only_the_imports_it_may_have(runs, module):
    for interpreter in ("pyodide", "cpython"):
        report = runs[interpreter]["imports"][module]
        assert report["error"] is None, f"{interpreter}: {report['error']}"
        assert report["load_errors"] == [], f"{interpreter}: {report['load_errors']}"
        assert report["outside_allowed"] == [], (
            f"{module} imports {report['outside_allowed']}: only the standard library, ALLOWED_PACKAGES and other "
            "pure modules may be imported by the pure core (Pyodide on Workers cannot load the rest)")
        assert report["impure_local"] == [], f"{module} imports modules of src/ that are not pure: {report['impure_local']}"


@pytest.mark.parametrize("module", sorted(PURE_MODULES))
def test_importing_a_pure_module_reads_no_clock_draws_no_randomness_and_does_no_io(runs, module):
    for interpreter in ("pyodide", "cpython"):
        assert runs[interpreter]["imports"][module]["violations"] == [], interpreter


@pytest.mark.parametrize("module", sorted(PURE_MODULES))
def test_cases_give_identical_results_on_pyodide_and_cpython(runs, module):
    ours, theirs = runs["cpython"]["cases"][module], runs["pyodide"]["cases"][module]
    assert len(ours) == len(PURE_MODULES[module]) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"{module} case {i}: CPython and Pyodide disagree:\n  {PURE_MODULES[module][i][:200]}"


@pytest.mark.parametrize("module", sorted(PURE_MODULES))
def test_every_pure_module_has_cases_that_do_more_than_fail(runs, module):
    results = runs["cpython"]["cases"][module]
    assert len(results) >= 3
    assert not all(isinstance(r, dict) and "raises" in r for r in results), "every case raised"


def test_the_import_rules_catch_what_they_are_for(probe_run):
    imports = probe_run["imports"]
    assert any("clock at import" in v for v in imports["reads_clock"]["violations"])
    assert any("randomness at import" in v for v in imports["draws_random"]["violations"])
    assert any("I/O at import" in v for v in imports["opens_file"]["violations"])
    assert imports["imports_pydantic"]["outside_allowed"] == ["pydantic"]
    assert imports["imports_pydantic"]["load_errors"]  # Pyodide here has no pydantic to load
    assert imports["clean"]["violations"] == [] and imports["clean"]["error"] is None
    assert imports["clean"]["outside_allowed"] == []


def test_allowed_pure_python_packages_are_mounted_from_this_environment(probe_run):
    report = probe_run["imports"]["uses_allowed"]
    assert report["error"] is None and report["load_errors"] == [] and report["outside_allowed"] == []
    assert probe_run["cases"]["uses_allowed"] == [{"tuple": [[1, 2, 3], "typing_extensions"]}]


def test_a_package_with_compiled_code_cannot_be_allowed():
    with pytest.raises(harness.HarnessError, match="not pure Python"):
        harness.package_location("pydantic_core")
    with pytest.raises(harness.HarnessError, match="not installed"):
        harness.package_location("no_such_package_here")


# -- static: what counts as pure, and that every such module is registered ---------------------

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__" and not node.level:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def _source_modules() -> dict[str, ast.AST]:
    return {_module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in SRC.rglob("*.py")}


def test_every_import_pure_decision_module_of_src_is_registered():
    """A module of src/ that imports only the stdlib, allowed packages and pure modules,
    and has no async code, is a pure decision module: it must be in PURE_MODULES (or in
    NOT_DECISIONS with a reason). New pure modules join the Pyodide suite this way."""
    modules = _source_modules()
    local = {name.split(".")[0] for name in modules}
    stdlib = set(sys.stdlib_module_names)
    allowed = set(ALLOWED_PACKAGES) | set(PURE_MODULES) | set(NOT_DECISIONS)

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    def import_pure(name: str) -> bool:
        for imp in _imports(modules[name]):
            top = imp.split(".")[0]
            if top in local:
                target = resolve(imp)
                if target and target != name and target not in allowed and not _is_marker(modules[target]):
                    return False
            elif top not in stdlib and top not in ALLOWED_PACKAGES:
                return False
        return True

    candidates = sorted(n for n, tree in modules.items()
                        if not _is_marker(tree) and import_pure(n)
                        and not any(isinstance(node, ast.AsyncFunctionDef) for node in ast.walk(tree)))
    unregistered = [n for n in candidates if n not in PURE_MODULES and n not in NOT_DECISIONS]
    assert unregistered == [], (f"pure modules not in tests/pyodide/pure_modules.py: {unregistered} (add each to "
                                "PURE_MODULES with cases, or to NOT_DECISIONS with the reason)")
    assert set(PURE_MODULES) <= set(modules) and set(NOT_DECISIONS) <= set(modules)


def _is_marker(tree: ast.AST) -> bool:
    return all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in tree.body)


def test_allowed_packages_are_pure_python_and_installed():
    for name in ALLOWED_PACKAGES:
        harness.package_location(name)  # raises if missing or compiled
