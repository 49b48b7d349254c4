"""Bad configuration fails the local host at start, naming the culprit."""

import shutil
from pathlib import Path

import pytest

from devhost.config import ConfigError, load_config, parse_jsonc, read_dev_vars
from devhost.host import LocalHost

ROOT = Path(__file__).resolve().parent.parent


def _copy_project(tmp_path: Path) -> Path:
    dest = tmp_path / "proj"
    dest.mkdir()
    for name in ("wrangler.jsonc", "src", "migrations"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    return dest


def test_jsonc_comments_and_trailing_commas_are_accepted():
    assert parse_jsonc('{"a": "x // not a comment", /* c */ "b": [1, 2,], // c\n}') == {
        "a": "x // not a comment", "b": [1, 2]}


def test_malformed_wrangler_jsonc_fails_with_a_clear_message(tmp_path):
    proj = _copy_project(tmp_path)
    (proj / "wrangler.jsonc").write_text('{"name": "x", "main": ')
    with pytest.raises(ConfigError, match="not valid JSONC"):
        LocalHost(proj, state_root=tmp_path / "s", dev_vars={})


def test_missing_database_id_names_the_binding(tmp_path):
    proj = _copy_project(tmp_path)
    text = (proj / "wrangler.jsonc").read_text().replace('"database_id": "6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5",', "")
    (proj / "wrangler.jsonc").write_text(text)
    with pytest.raises(ConfigError, match="D1 binding D1_PRIMARY: missing or empty 'database_id'"):
        load_config(proj)


def test_durable_object_class_missing_from_entry_names_the_binding(tmp_path):
    proj = _copy_project(tmp_path)
    text = (proj / "wrangler.jsonc").read_text().replace('"class_name": "ChatConversationDO"', '"class_name": "Nope"')
    text = text.replace('"ChatConversationDO"\n', '"ChatConversationDO", "Nope"\n')
    (proj / "wrangler.jsonc").write_text(text)
    with pytest.raises(ConfigError, match="CHAT_CONVERSATIONS: class Nope"):
        LocalHost(proj, state_root=tmp_path / "s", dev_vars={})


def test_dev_vars_are_read_like_dotenv(tmp_path):
    p = tmp_path / ".dev.vars"
    p.write_text('# comment\nA=1\nexport B="two words"\nC=\'x=y\'\n')
    assert read_dev_vars(p) == {"A": "1", "B": "two words", "C": "x=y"}
    p.write_text("not a pair\n")
    with pytest.raises(ConfigError, match=r"\.dev\.vars:1"):
        read_dev_vars(p)
