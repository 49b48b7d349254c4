"""src/entry.py with the real Workers SDK (over the local runtime): the classes match
wrangler.jsonc, and no other module imports the runtime."""

import re
from pathlib import Path

from devhost.config import load_config
from devhost.runtime_shim import import_entry

ROOT = Path(__file__).resolve().parent.parent


def test_entry_exports_every_durable_object_class_named_in_wrangler_jsonc():
    entry = import_entry(ROOT)
    config = load_config(ROOT)
    declared = {do.class_name for do in config.durable_objects}
    assert declared == {"OIDCStateDurableObject", "StruggleDetectorDO", "ChatConversationDO", "GradeSyncDO"}
    for name in declared:
        cls = getattr(entry, name)
        assert issubclass(cls, entry.DurableObject), name
    assert declared <= config.sqlite_classes


def test_default_entrypoint_serves_fetch_and_scheduled():
    entry = import_entry(ROOT)
    assert issubclass(entry.Default, entry.WorkerEntrypoint)
    assert callable(entry.Default.fetch) and callable(entry.Default.scheduled)


def test_wrangler_jsonc_declares_what_the_story_asks_for():
    config = load_config(ROOT)
    assert config.main == "src/entry.py"
    assert "python_workers" in config.compatibility_flags
    assert config.compatibility_date >= "2026-05-26"
    primary = config.d1_by_binding("D1_PRIMARY")
    assert (primary.database_name, primary.migrations_dir) == ("atomic-guide-primary", "migrations")
    assert {d.name for d in config.durable_objects} == {"OIDC_STATE", "STRUGGLE_DETECTOR", "CHAT_CONVERSATIONS", "GRADE_SYNC"}
    assert config.cpu_ms == 50
    assert config.crons and config.ai_binding == "AI"
    assert len(config.kv) == 3 and len(config.r2) == 1


def test_binding_names_in_code_match_wrangler_jsonc():
    import bindings

    config = load_config(ROOT)
    assert set(bindings.D1_DATABASES) == {d.binding for d in config.d1}
    assert set(bindings.KV_NAMESPACES) == {k.binding for k in config.kv}
    assert set(bindings.R2_BUCKETS) == {r.binding for r in config.r2}
    assert set(bindings.DURABLE_OBJECTS) == {d.name for d in config.durable_objects}


def test_only_entry_imports_the_runtime():
    pattern = re.compile(r"^\s*(import (js|pyodide|workers|asgi)\b|from (js|pyodide|workers|asgi)\b)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py")
                 if p.name != "entry.py" and pattern.search(p.read_text())]
    assert offenders == []


def test_no_clock_or_randomness_at_import_time():
    # Module top levels must not call time/random/uuid/secrets (snapshotting forbids it).
    pattern = re.compile(r"^(?!\s)(?!def |class |@|#).*\b(time\.time|random\.|uuid4|secrets\.|datetime\.now)\(", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []
