"""The export format and the decisions around it, as pure functions (no I/O):

  exports/<tenant_id>/<YYYY-MM-DD>/<table>/<seq>.ndjson.gz   one keyset page of a table:
        gzip of NDJSON lines, each a JSON array of the row's values in the column order
        the manifest lists (exact values per db/exact.py)
  exports/<tenant_id>/<YYYY-MM-DD>/manifest.json             written last; an export
        without it is incomplete by definition

Also: the workflow instance id of a night's export, retention, page sizing and the
signed download links an institution's admin gets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import zlib
from datetime import UTC, datetime

from db import exact

FORMAT = "atomic-guide-export/1"
ROOT = "exports/"
MANIFEST = "manifest.json"
PART_BYTES = 5 * 1024 * 1024  # R2's minimum part size (all parts but the last)
# Every page is at most PAGE_ROWS rows and PAGE_BYTES bytes of NDJSON, both enforced by
# the page's SQL (TenantScope.export_page; a single row larger than PAGE_BYTES makes a
# page of its own) and checked again here: a step's CPU is bounded by construction
# (bench/backups.py measures it against limits.cpu_ms). Restore binds rows as JSON text,
# so a wide row costs nothing per value there.
PAGE_ROWS, PAGE_BYTES = 4000, 512 * 1024
# Restore binds an object's rows as JSON text, at most this many characters per statement:
# D1 refuses a string value over 2,000,000 bytes, and a character is at most 4 bytes.
JSON_CHARS = 500_000
GZIP_LEVEL = 3
DEFAULT_RETENTION = 30
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANCE_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


class ManifestError(ValueError):
    """A manifest that cannot be restored from; the message says what is wrong."""


def day_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def is_day(day: str) -> bool:
    return isinstance(day, str) and bool(_DAY.match(day))


def tenant_prefix(tenant_id: str) -> str:
    return f"{ROOT}{tenant_id}/"


def export_prefix(tenant_id: str, day: str) -> str:
    return f"{ROOT}{tenant_id}/{day}/"


def manifest_key(tenant_id: str, day: str) -> str:
    return export_prefix(tenant_id, day) + MANIFEST


def chunk_key(tenant_id: str, day: str, table: str, seq: int) -> str:
    return f"{export_prefix(tenant_id, day)}{table}/{seq:05d}.ndjson.gz"


def upload_marker_key(key: str) -> str:
    """Where the id of a multipart upload in progress for `key` is noted."""
    prefix, _, name = key.rpartition("/")
    return f"{prefix}/.upload-{name}"


def export_instance_id(tenant_id: str, day: str) -> str:
    """Deterministic per tenant and night, so a second trigger finds the first one.
    Workflow ids allow [A-Za-z0-9_-] and 64 characters (workflows/reference/limits);
    a tenant id that does not fit is replaced by its sha256 prefix."""
    tid = tenant_id if _INSTANCE_SAFE.match(tenant_id) else hashlib.sha256(tenant_id.encode()).hexdigest()[:32]
    return f"export-{tid}-{day.replace('-', '')}"


def encode_lines(rows: list[list]) -> bytes:
    return ("\n".join(json.dumps(r, separators=(",", ":")) for r in rows) + "\n").encode() if rows else b""


def page_ndjson(answer: list[list], limit: int, max_bytes: int) -> tuple[bytes, int, bool]:
    """The answer of TenantScope.export_page (one sequence of values in rows, NULL-padded)
    -> (the page's NDJSON, its row count, whether the table goes on after it). Refuses an
    answer that breaks the page's budgets or leaves a REAL out, so no object is ever
    written from one."""
    values = [v for row in answer for v in row]
    while values and values[-1] is None:
        values.pop()
    if len(values) < 2 or type(values[0]) is not int or type(values[1]) is not int:
        raise ValueError("an export page answer lacks its counts")
    rows, looked = values[0], values[1]
    lines, reals = values[2:2 + rows], values[2 + rows:]
    if rows > limit or looked < rows or len(lines) < rows or any(type(line) is not str for line in lines):
        raise ValueError(f"an export page answer of {rows} lines for a limit of {limit} rows")
    if not rows:
        if reals:
            raise ValueError("an export page answer of values without lines")
        return b"", 0, False
    data = exact.fill_reals("\n".join(lines) + "\n", reals).encode()
    if len(data) > max_bytes and rows > 1:
        raise ValueError(f"an export page of {len(data)} bytes over its budget of {max_bytes}")
    return data, rows, looked > rows


def page_cursor(data: bytes, columns: list[str], keys: list[str]) -> list:
    """The keyset cursor after a page: the key values of its last line, as SQL compares
    them (the exact encodings decoded: {"$i"} an int, {"$r"} a float, {"$b"} bytes as hex)."""
    last = json.loads(data.rstrip(b"\n").rpartition(b"\n")[2])
    out = []
    for k in keys:
        v = last[columns.index(k)]
        if isinstance(v, dict):
            if "$i" in v:
                v = int(v["$i"])
            elif "$r" in v:
                v = float(v["$r"]) if not isinstance(v["$r"], str) else float(v["$r"].lower())
            else:
                raise ValueError("a BLOB key cannot be a keyset cursor")
        out.append(v)
    return out


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (no name, mtime 0): the same rows give the same bytes, so a
    resumed export produces the very objects an uninterrupted one would."""
    c = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def read_chunk(data: bytes) -> list[list]:
    # "\n" only: lines may hold U+2028 and the like raw (SQLite's JSON does not escape them)
    return [json.loads(line) for line in chunk_text(data).split("\n") if line]


def chunk_text(data: bytes) -> str:
    return zlib.decompress(data, 47).decode()


def restore_parts(text: str, budget: int = JSON_CHARS) -> tuple[list[str], list[str], int]:
    """An object's NDJSON -> (JSON array texts of rows, each at most `budget` characters,
    for TenantScope.insert_exported_json; lines to bind value by value; the row count).
    Without touching a row in the common case: the lines joined by commas. Lines that
    SQLite's JSON functions cannot restore exactly go to the value-by-value path: a BLOB
    ({"$b"}: no unhex() before SQLite 3.41) and text holding NUL (json_extract stops at
    it); so does a line longer than the budget. Neither pattern can occur inside a JSON
    string (its quotes and backslashes are escaped), so the test is exact."""
    body = text.rstrip("\n")
    if not body:
        return [], [], 0
    rows = body.count("\n") + 1
    if len(body) + 2 <= budget and '{"$b"' not in body and "\\u0000" not in body:
        return ["[" + body.replace("\n", ",") + "]"], [], rows
    arrays, exact, current, size = [], [], [], 2
    for line in body.split("\n"):
        if '{"$b"' in line or "\\u0000" in line or len(line) + 2 > budget:
            exact.append(line)
            continue
        if current and size + len(line) + 1 > budget:
            arrays.append("[" + ",".join(current) + "]")
            current, size = [], 2
        current.append(line)
        size += len(line) + 1
    if current:
        arrays.append("[" + ",".join(current) + "]")
    return arrays, exact, rows


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parts(data: bytes) -> list[bytes]:
    """Equal PART_BYTES slices and a smaller last one, as R2 multipart requires."""
    return [data[i:i + PART_BYTES] for i in range(0, len(data), PART_BYTES)]


def build_manifest(begin: dict, tables: list[dict], finished_at: str) -> dict:
    """tables: [{name, columns, objects: [{key, rows, bytes, sha256}]}] in restore order."""
    out_tables = []
    for t in tables:
        objects = [{k: o[k] for k in ("key", "rows", "bytes", "sha256")} for o in t["objects"]]
        out_tables.append({"name": t["name"], "columns": t["columns"], "rows": sum(o["rows"] for o in objects),
                           "bytes": sum(o["bytes"] for o in objects), "objects": objects})
    return {
        "format": FORMAT,
        "tenant": begin["tenant"],
        "day": begin["day"],
        "schema_version": begin["schema_version"],
        "started_at": begin["started_at"],
        "finished_at": finished_at,
        "rows": sum(t["rows"] for t in out_tables),
        "bytes": sum(t["bytes"] for t in out_tables),
        "objects": sum(len(t["objects"]) for t in out_tables),
        "encoding": "gzip NDJSON; one JSON array per row in `columns` order; {\"$b\": hex} BLOB, "
                    "{\"$i\": \"digits\"} INTEGER beyond 2^53, {\"$r\": n} REAL stored as an integral value",
        "tables": out_tables,
    }


def check_manifest(manifest: object, tenant_id: str, day: str) -> dict:
    """The manifest, if it is one this code can restore for that tenant and day."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ManifestError(f"not an export manifest of format {FORMAT}")
    tenant = manifest.get("tenant")
    if not isinstance(tenant, dict) or tenant.get("id") != tenant_id or manifest.get("day") != day:
        raise ManifestError("the manifest belongs to another tenant or day")
    prefix = export_prefix(tenant_id, day)
    for t in manifest.get("tables") or []:
        if not isinstance(t, dict) or not isinstance(t.get("columns"), list):
            raise ManifestError("a table entry lacks its columns")
        for o in t.get("objects") or []:
            if not str(o.get("key", "")).startswith(prefix):
                raise ManifestError(f"object {o.get('key')!r} lies outside the export")
    return manifest


def manifest_metadata(manifest: dict) -> dict:
    """Small custom metadata on manifest.json so a listing needs no body reads."""
    return {k: str(manifest[k]) for k in ("rows", "bytes", "objects", "started_at", "finished_at",
                                          "schema_version")}


def retention_plan(complete_days: list[str], incomplete_days: list[str], running_days: set[str],
                   keep: int, today: str) -> list[str]:
    """Days to delete: complete exports beyond the newest `keep`, and incomplete ones
    (no manifest) whose run is not still going, never today's."""
    keep = max(1, keep)
    old = sorted(complete_days, reverse=True)[keep:]
    leftovers = [d for d in incomplete_days if d not in running_days and d != today]
    return sorted(set(old) | set(leftovers))


def sign_link(secret: str, key: str, expires: int) -> str:
    mac = hmac.new(_link_key(secret), f"{key}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def link_is_valid(secret: str, key: str, expires: int, signature: str, now: float) -> bool:
    return expires >= now and hmac.compare_digest(sign_link(secret, key, expires), signature)


def _link_key(secret: str) -> bytes:
    # A key of its own, derived from the session secret, so a link signature can never
    # be confused with a session token signature.
    return hmac.new(secret.encode(), b"atomic-guide export download links", hashlib.sha256).digest()
