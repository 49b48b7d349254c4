"""wrangler.jsonc and .dev.vars, read the way wrangler reads them: one source of truth
for binding names, ids, crons and vars."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(Exception):
    """wrangler.jsonc (or .dev.vars) cannot be used; the message names the culprit."""


@dataclass(frozen=True)
class D1Config:
    binding: str
    database_name: str
    database_id: str
    migrations_dir: str = "migrations"
    migrations_table: str = "d1_migrations"


@dataclass(frozen=True)
class KVConfig:
    binding: str
    id: str


@dataclass(frozen=True)
class R2Config:
    binding: str
    bucket_name: str


@dataclass(frozen=True)
class RateLimitConfig:
    name: str
    namespace_id: str
    limit: int
    period: int


@dataclass(frozen=True)
class DOConfig:
    name: str
    class_name: str


@dataclass(frozen=True)
class WorkflowConfig:
    name: str
    binding: str
    class_name: str
    # `limits.steps` of the workflow entry; None means the platform's default.
    step_limit: int | None = None


@dataclass(frozen=True)
class WorkerConfig:
    root: Path
    name: str
    main: str
    compatibility_date: str
    compatibility_flags: tuple[str, ...]
    d1: tuple[D1Config, ...]
    kv: tuple[KVConfig, ...]
    r2: tuple[R2Config, ...]
    durable_objects: tuple[DOConfig, ...]
    sqlite_classes: frozenset[str]
    ai_binding: str | None
    crons: tuple[str, ...]
    vars: dict[str, str] = field(default_factory=dict)
    ratelimits: tuple[RateLimitConfig, ...] = ()
    cpu_ms: int | None = None
    workflows: tuple[WorkflowConfig, ...] = ()

    def d1_by_binding(self, binding: str) -> D1Config:
        for db in self.d1:
            if db.binding == binding:
                return db
        raise ConfigError(f"no d1_databases entry with binding {binding!r} in wrangler.jsonc")


_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def parse_jsonc(text: str) -> dict:
    """JSON with comments and trailing commas, as wrangler accepts it."""
    without_comments = _TOKEN.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)
    # Trailing commas: only outside strings, so re-tokenise strings out of the way.
    parts, last = [], 0
    for m in re.finditer(r'"(?:\\.|[^"\\])*"', without_comments):
        parts.append(_TRAILING_COMMA.sub(r"\1", without_comments[last : m.start()]))
        parts.append(m.group(0))
        last = m.end()
    parts.append(_TRAILING_COMMA.sub(r"\1", without_comments[last:]))
    try:
        data = json.loads("".join(parts))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"wrangler.jsonc is not valid JSONC: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError("wrangler.jsonc must hold a JSON object")
    return data


def _require(entry: dict, key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: missing or empty {key!r} in wrangler.jsonc")
    return value


def load_config(root: Path | str = ".") -> WorkerConfig:
    root = Path(root).resolve()
    path = root / "wrangler.jsonc"
    if not path.exists():
        raise ConfigError(f"{path} not found")
    raw = parse_jsonc(path.read_text(encoding="utf-8"))

    d1 = []
    for i, e in enumerate(raw.get("d1_databases", [])):
        binding = _require(e, "binding", f"d1_databases[{i}]")
        d1.append(
            D1Config(
                binding=binding,
                database_name=_require(e, "database_name", f"D1 binding {binding}"),
                database_id=_require(e, "database_id", f"D1 binding {binding}"),
                migrations_dir=e.get("migrations_dir", "migrations"),
                migrations_table=e.get("migrations_table", "d1_migrations"),
            )
        )
    kv = []
    for i, e in enumerate(raw.get("kv_namespaces", [])):
        binding = _require(e, "binding", f"kv_namespaces[{i}]")
        kv.append(KVConfig(binding=binding, id=_require(e, "id", f"KV binding {binding}")))
    r2 = []
    for i, e in enumerate(raw.get("r2_buckets", [])):
        binding = _require(e, "binding", f"r2_buckets[{i}]")
        r2.append(R2Config(binding=binding, bucket_name=_require(e, "bucket_name", f"R2 binding {binding}")))
    dos = []
    for i, e in enumerate(raw.get("durable_objects", {}).get("bindings", [])):
        name = _require(e, "name", f"durable_objects.bindings[{i}]")
        dos.append(DOConfig(name=name, class_name=_require(e, "class_name", f"Durable Object binding {name}")))
    sqlite_classes = frozenset(
        c for m in raw.get("migrations", []) for c in m.get("new_sqlite_classes", [])
    )
    for do in dos:
        if do.class_name not in sqlite_classes:
            raise ConfigError(
                f"Durable Object binding {do.name}: class {do.class_name} is not declared in "
                "migrations[].new_sqlite_classes of wrangler.jsonc"
            )
    limits = []
    for i, e in enumerate(raw.get("ratelimits", [])):
        name = _require(e, "name", f"ratelimits[{i}]")
        simple = e.get("simple") or {}
        if simple.get("period") not in (10, 60) or not isinstance(simple.get("limit"), int) or simple["limit"] < 1:
            raise ConfigError(f"rate limit {name}: simple.limit must be a positive integer and simple.period 10 or 60")
        limits.append(RateLimitConfig(name, _require(e, "namespace_id", f"rate limit {name}"),
                                      simple["limit"], simple["period"]))
    workflows = _workflows(raw)
    names = ([b.binding for b in d1] + [b.binding for b in kv] + [b.binding for b in r2] + [d.name for d in dos]
             + [r.name for r in limits] + [w.binding for w in workflows])
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(f"binding names used twice in wrangler.jsonc: {sorted(dupes)}")
    ai = raw.get("ai", {}).get("binding") if isinstance(raw.get("ai"), dict) else None
    return WorkerConfig(
        root=root,
        name=_require(raw, "name", "top level"),
        main=_require(raw, "main", "top level"),
        compatibility_date=_require(raw, "compatibility_date", "top level"),
        compatibility_flags=tuple(raw.get("compatibility_flags", [])),
        d1=tuple(d1),
        kv=tuple(kv),
        r2=tuple(r2),
        durable_objects=tuple(dos),
        sqlite_classes=sqlite_classes,
        ai_binding=ai,
        crons=tuple(raw.get("triggers", {}).get("crons", [])),
        vars={k: str(v) for k, v in raw.get("vars", {}).items()},
        cpu_ms=raw.get("limits", {}).get("cpu_ms"),
        ratelimits=tuple(limits),
        workflows=workflows,
    )


def _workflows(raw: dict) -> tuple[WorkflowConfig, ...]:
    out = []
    for i, e in enumerate(raw.get("workflows", [])):
        binding = _require(e, "binding", f"workflows[{i}]")
        steps = (e.get("limits") or {}).get("steps")
        if steps is not None and (not isinstance(steps, int) or steps < 1):
            raise ConfigError(f"Workflow binding {binding}: limits.steps must be a positive integer")
        out.append(WorkflowConfig(name=_require(e, "name", f"Workflow binding {binding}"), binding=binding,
                                  class_name=_require(e, "class_name", f"Workflow binding {binding}"),
                                  step_limit=steps))
    return tuple(out)


def read_dev_vars(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as wrangler reads .dev.vars (dotenv: comments, optional quotes)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ConfigError(f"{path.name}:{n}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
            if line.partition("=")[2].strip().startswith('"'):
                value = value.replace("\\n", "\n")
        values[key.strip()] = value
    return values
