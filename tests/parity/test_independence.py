"""The parity suite shares no code with what it checks: nothing under tests/parity/
imports devhost/ (the local side reaches the contracts through fixtures built in
tests/local_bindings.py), so a bug in a local binding cannot be mirrored on both sides."""

import ast
from pathlib import Path


def test_nothing_in_the_parity_suite_imports_devhost():
    offenders = []
    for path in sorted(Path(__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        offenders += [(path.name, n) for n in names if n == "devhost" or n.startswith("devhost.")]
    assert offenders == []
