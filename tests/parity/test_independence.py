"""The remote side of the parity suite shares no code with what it checks: a bug in a
local binding must not be mirrored on both sides of a contract."""

import ast
from pathlib import Path


def test_the_remote_adapters_import_nothing_from_devhost():
    tree = ast.parse((Path(__file__).parent / "remote.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name == "devhost" or name.startswith("devhost.") for name in imported), imported
