"""Subprocess of the `backups` bench group: one export or restore run in a fresh
process, so its peak RSS (ru_maxrss) belongs to that run alone. Prints one JSON line.

  python -m bench.backups_worker seed STATE ROWS
  python -m bench.backups_worker export STATE DAY
  python -m bench.backups_worker restore STATE DAY
  python -m bench.backups_worker restore-by-value STATE DAY   (the baseline restore)
  python -m bench.backups_worker export-by-value STATE DAY    (the baseline export)"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sqlite3
import sys
import time
from pathlib import Path

import bench  # noqa: F401  (puts src/ and the repo root on sys.path)

TENANT = "bbbbbbbb-0000-4000-8000-00000000b4c0"
# Share of the rows per table: a tenant mostly made of messages and events.
MIX = [("learner_profiles", 0.01), ("learning_sessions", 0.09), ("chat_conversations", 0.05),
       ("chat_messages", 0.40), ("struggle_events", 0.15), ("knowledge_state", 0.10), ("engagement_logs", 0.20)]


def _host(state: Path):
    from devhost.host import LocalHost

    # The state sits where `wrangler d1 export --local` run in `state` (a copy of the
    # project's wrangler.jsonc) looks for it.
    return LocalHost(bench.ROOT, state_root=state / ".wrangler" / "state" / "v3", dev_vars={
        "SESSION_SIGNING_KEY": "k" * 48, "ADMIN_API_SECRET": "s" * 48, "TOOL_PRIVATE_KEYS": ""})


def seed(state: Path, rows: int) -> dict:
    """A synthetic tenant of `rows` rows across tables, written with sqlite3 directly."""
    host = _host(state)
    host.migrate()
    path = host.d1["D1_PRIMARY"].path
    conn = sqlite3.connect(path)
    conn.execute("INSERT OR IGNORE INTO tenants (id, name) VALUES (?, 'Bench University')", (TENANT,))
    rng = random.Random(13)
    counts = {t: max(1, int(rows * share)) for t, share in MIX}
    counts["chat_messages"] += rows - sum(counts.values())
    ts = "2026-01-02T03:04:05.678Z"
    n_prof, n_sess, n_conv = counts["learner_profiles"], counts["learning_sessions"], counts["chat_conversations"]
    prof = lambda i: f"p{i:08d}"  # noqa: E731
    sess = lambda i: f"s{i:08d}"  # noqa: E731
    conv = lambda i: f"c{i:08d}"  # noqa: E731
    words = ["algebra", "fraction", "lösung", "学习", "derivative", "hint", "why", "because", "🚀", "example"]

    def text(n):
        return " ".join(rng.choice(words) for _ in range(n))

    conn.executemany("INSERT INTO learner_profiles (id, tenant_id, lti_user_id, cognitive_profile, created_at, updated_at)"
                     " VALUES (?, ?, ?, ?, ?, ?)",
                     ((prof(i), TENANT, f"user-{i}", json.dumps({"learning_velocity": rng.random() * 3}), ts, ts)
                      for i in range(n_prof)))
    conn.executemany("INSERT INTO learning_sessions (id, tenant_id, learner_id, course_context, behavioral_signals,"
                     " average_response_time, created_at, updated_at) VALUES (?, ?, ?, 'course-1', ?, ?, ?, ?)",
                     ((sess(i), TENANT, prof(i % n_prof), json.dumps({"clicks": rng.randint(0, 99)}), rng.random() * 9,
                       ts, ts) for i in range(n_sess)))
    conn.executemany("INSERT INTO chat_conversations (id, tenant_id, learner_id, course_context, started_at)"
                     " VALUES (?, ?, ?, 'course-1', ?)", ((conv(i), TENANT, prof(i % n_prof), ts) for i in range(n_conv)))
    conn.executemany("INSERT INTO chat_messages (id, tenant_id, conversation_id, learner_id, role, content, created_at)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)",
                     ((f"m{i:08d}", TENANT, conv(i % n_conv), prof(i % n_conv % n_prof), rng.choice(["user", "assistant"]),
                       text(rng.randint(5, 60)), ts) for i in range(counts["chat_messages"])))
    conn.executemany("INSERT INTO struggle_events (id, tenant_id, learner_id, session_id, event_type, severity, signals,"
                     " detected_at) VALUES (?, ?, ?, ?, 'idle', ?, ?, ?)",
                     ((f"e{i:08d}", TENANT, prof(i % n_sess % n_prof), sess(i % n_sess), round(rng.random(), 3),
                       json.dumps({"dwell_ms": rng.randint(0, 9999)}), ts) for i in range(counts["struggle_events"])))
    conn.executemany("INSERT INTO knowledge_state (id, tenant_id, learner_id, subject, topic, concept, mastery_level,"
                     " created_at, updated_at) VALUES (?, ?, ?, 'math', 'algebra', ?, ?, ?, ?)",
                     ((f"k{i:08d}", TENANT, prof(i % n_prof), f"concept-{i // n_prof}", rng.random(), ts, ts)
                      for i in range(counts["knowledge_state"])))
    conn.executemany("INSERT INTO engagement_logs (id, tenant_id, learner_id, session_id, event_type, event_context,"
                     " engagement_score) VALUES (?, ?, ?, ?, 'question_view', ?, ?)",
                     ((f"g{i:08d}", TENANT, prof(i % n_sess % n_prof), sess(i % n_sess), json.dumps({"q": i % 97}),
                       rng.random()) for i in range(counts["engagement_logs"])))
    conn.commit()
    conn.close()
    return {"rows": sum(counts.values()), "db_bytes": Path(path).stat().st_size}


class _BindingCpu:
    """CPU spent inside the local D1/R2 bindings (SQLite runs in this process here; on
    Cloudflare it is I/O, not the Worker's CPU)."""

    total = 0.0
    depth = 0  # nested wrapped calls are counted once, at the outermost

    @classmethod
    def wrap(cls, obj, name):
        original = getattr(obj, name)

        def timed(*a, **kw):
            cls.depth += 1
            t = time.process_time()
            try:
                return original(*a, **kw)
            finally:
                cls.depth -= 1
                if cls.depth == 0:
                    cls.total += time.process_time() - t

        setattr(obj, name, timed)


def _export_by_value() -> None:
    """The baseline export: every value of a page crosses from D1 to Python (selected
    through db/exact.py's typeof()-aware marker and value expressions) and is encoded
    with json.dumps, pages sized from the previous page's bytes (about 1 MiB of NDJSON,
    50-2,000 rows, at most 24,000 values), as export steps did before SQLite built the
    lines (commit "Export pages built by SQLite")."""
    from backups import export
    from backups import format as fmt
    from db import exact
    from db.database import Database
    from db.system import system_scope
    from db.tables import keyset, table

    limits: dict[str, int] = {}

    def sized(rows: int, ndjson_bytes: int, columns: int) -> int:
        if rows <= 0:
            return max(50, min(1000, 24_000 // max(1, columns)))
        return max(50, min(2000, (1024 * 1024) // max(1, ndjson_bytes // rows), 24_000 // max(1, columns)))

    async def export_page(env, info, name, seq, after, *_):
        tenant = info["tenant"]
        db = Database(env, on_slow=export._SlowPages())
        scope = system_scope({"id": tenant["id"], "d1_binding": export.source_binding(name, tenant["d1_binding"])},
                             "backup-export")
        cols, keys = scope.export_columns(name), list(keyset(name))
        limit = limits.get(name) or sized(0, 0, len(cols))
        params = [tenant["id"], *(after or []), limit]
        sql = (f"SELECT {', '.join(keys)}, {exact.marker_sql(cols)} AS export_marker, "
               f"{', '.join(exact.value_sql(c) for c in cols)} FROM {table(name).name} WHERE tenant_id = ?"
               + (f" AND ({', '.join(keys)}) > ({', '.join('?' * len(keys))})" if after else "")
               + f" ORDER BY {', '.join(keys)} LIMIT ?")
        page = await db.raw(scope._stmt("backup.export_page", sql, params))
        out = {"rows": len(page), "more": len(page) >= limit, "key": None, "bytes": 0, "sha256": None,
               "cursor": None, "ndjson_bytes": 0, "slow": 0, "slow_max_ms": 0}
        if not page:
            return out
        nkeys = len(keys)
        data = fmt.encode_lines([exact.encode_row(r[nkeys], r[nkeys + 1:]) for r in page])
        body = fmt.gzip_bytes(data)
        key = fmt.chunk_key(tenant["id"], info["day"], name, seq)
        await export._upload(env.EXPORTS, key, body)
        limits[name] = sized(len(page), len(data), len(cols))
        out.update(key=key, bytes=len(body), sha256=fmt.sha256(body), cursor=list(page[-1][:nkeys]),
                   ndjson_bytes=len(data))
        return out

    export.export_page = export_page


async def run(kind: str, state: Path, day: str) -> dict:
    from devhost.bindings.d1 import LocalD1Database
    from devhost.bindings.r2 import LocalR2Bucket, R2MultipartUpload
    from devhost.bindings.workflows import LocalWorkflow

    # _run_one: running a statement and shaping its result dict (JS and the D1 service on
    # Cloudflare); _execute alone for raw(). bind() stays on the Worker's side.
    for cls, names in ((LocalD1Database, ["_run_one", "_execute"]), (LocalR2Bucket, ["_store", "_row", "_store_parts"])):
        for n in names:
            _BindingCpu.wrap(cls, n)
    per_step_binding: dict[str, float] = {}
    start_marks: dict[str, float] = {}
    save_attempt, save_result = LocalWorkflow._save_attempt, LocalWorkflow._save_result

    def on_attempt(self, instance_id, key, name, attempts):
        start_marks[key] = _BindingCpu.total
        return save_attempt(self, instance_id, key, name, attempts)

    written: set[str] = set()  # page steps that wrote an object

    def on_result(self, instance_id, key, encoded, cpu_ms):
        per_step_binding[key] = (_BindingCpu.total - start_marks.get(key, _BindingCpu.total)) * 1000
        from devhost.bindings.durable_objects import _decode

        result = _decode(encoded)
        if isinstance(result, dict) and result.get("key") and result.get("rows"):
            written.add(key)
        return save_result(self, instance_id, key, encoded, cpu_ms)

    LocalWorkflow._save_attempt, LocalWorkflow._save_result = on_attempt, on_result
    del R2MultipartUpload
    instance_id = f"bench-{kind}-{day.replace('-', '')}"
    if kind == "restore-by-value":
        # The baseline: every row bound value by value (TenantScope.insert_exported), as
        # restore did before it bound an object's rows as one JSON text per statement.
        from backups import format as fmt

        fmt.restore_parts = lambda text, budget=fmt.JSON_CHARS: (
            [], [line for line in text.split("\n") if line], text.count("\n"))
        kind = "restore"

    if kind == "export-by-value":
        _export_by_value()
        kind = "export"

    host = _host(state)
    await host.start()
    binding = "EXPORT_WORKFLOW" if kind == "export" else "RESTORE_WORKFLOW"
    wf = host.workflows[binding]
    params = {"tenant_id": TENANT, "day": day}
    if kind == "restore":
        params["settle"] = "0 seconds"
    started, cpu0 = time.perf_counter(), time.process_time()
    instance = await wf.create(id=instance_id, params=params)
    await host.workflows_idle()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
    status = await instance.status()
    steps = wf.step_stats(instance_id)
    await host.aclose()
    cpu_ms = sorted(s["cpu_ms"] for s in steps if s["cpu_ms"] is not None)
    own_ms = sorted(max(0.0, s["cpu_ms"] - per_step_binding.get(s["cache_key"], 0.0)) for s in steps
                    if s["cpu_ms"] is not None)
    # The page steps that wrote an object alone (not begin, empty tables, manifest, ...).
    page_ms = sorted(max(0.0, s["cpu_ms"] - per_step_binding.get(s["cache_key"], 0.0)) for s in steps
                     if s["cpu_ms"] is not None and s["cache_key"] in written)
    return {"status": status["status"], "output": status.get("output"), "seconds": seconds, "cpu_s": cpu,
            "steps": len(steps), "step_cpu_ms": cpu_ms, "step_own_cpu_ms": own_ms, "page_own_cpu_ms": page_ms,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str]) -> int:
    kind, state = argv[0], Path(argv[1])
    if kind == "seed":
        out = seed(state, int(argv[2]))
    else:
        out = asyncio.run(run(kind, state, argv[2]))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
