"""The local runtime's JavaScript surface against the real one: the same probes
(tests/runtime/js_probe.py) run under real Pyodide in Node (Pyodide's FFI, Node's
Headers/URL/Request/Response/streams, which follow the same Fetch standard as workerd)
and under CPython over devhost/runtime; every answer must match."""

from __future__ import annotations

from pathlib import Path

import pytest

from devhost.pyodide import harness

PROBE = Path(__file__).with_name("js_probe.py")


@pytest.fixture(scope="module")
def answers() -> dict:
    return {"real": harness.run_pyodide(PROBE, {}), "local": harness.run_cpython(PROBE, {})}


def test_every_probe_answers_on_both_sides(answers):
    assert set(answers["real"]) == set(answers["local"]) and len(answers["real"]) >= 40


def test_the_local_js_surface_answers_as_pyodide_and_the_fetch_standard_do(answers):
    differing = {k: {"real": v, "local": answers["local"][k]} for k, v in answers["real"].items()
                 if answers["local"][k] != v}
    assert differing == {}
