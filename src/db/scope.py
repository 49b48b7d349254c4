"""TenantScope: the only way to reach tenant-owned rows. A scope can be built only from
proof that the tenant was verified (a verified session token, or a system grant for
cron and admin work), and every statement it builds carries `tenant_id = ?` bound to
that tenant. Statements are opaque objects; the Database runs nothing else."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from db import exact
from db.tables import UnscopedQueryError, keyset, table

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_OPS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "in": "IN"}
MAX_IN_LIST = 90
# Values per result row of an export page (TenantScope.export_page): a D1 result reaches
# Python row by row, and a row costs far more to convert than a value.
EXPORT_ROW_VALUES = 32  # D1 caps bound parameters at 100; leave room for the other predicates


class _Proof:
    """Marker held only by the modules allowed to vouch for a tenant: auth/session.py (a
    verified session token), lti/launch_flow.py (a verified LTI launch) and db/system.py
    (cron and admin work). A test keeps that list closed."""

    __slots__ = ("tenant_id", "d1_binding", "source")

    def __init__(self, key: object, tenant_id: str, d1_binding: str, source: str) -> None:
        if key is not _PROOF_KEY:
            raise UnscopedQueryError("a tenant proof can only be issued through issue_proof")
        self.tenant_id = tenant_id
        self.d1_binding = d1_binding
        self.source = source


_PROOF_KEY = object()


def issue_proof(tenant_id: str, d1_binding: str, source: str) -> _Proof:
    """For the verifiers only (session token, LTI launch, system jobs); see _Proof."""
    if not isinstance(tenant_id, str) or not tenant_id:
        raise UnscopedQueryError("a tenant proof needs a tenant id")
    if not re.fullmatch(r"D1_[A-Z0-9_]+", d1_binding or ""):
        raise UnscopedQueryError(f"bad D1 binding name {d1_binding!r}")
    return _Proof(_PROOF_KEY, tenant_id, d1_binding, source)


@dataclass(frozen=True)
class Statement:
    """A built statement: name (for timing), SQL and its parameters; tenant bound first."""

    name: str
    sql: str
    params: list
    tenant_id: str
    d1_binding: str
    _key: object = None

    def __post_init__(self) -> None:
        if self._key is not _STATEMENT_KEY:
            raise UnscopedQueryError("statements can only be built by a TenantScope")


_STATEMENT_KEY = object()


@functools.lru_cache(maxsize=256)
def _plain_insert_sql(table_name: str, cols: tuple[str, ...], nrows: int) -> str:
    """`INSERT ... VALUES (?1, ?2, ...), (?1, ...)`: the tenant is ?1 of every row."""
    width = len(cols)
    groups = (f"(?1, {', '.join(f'?{2 + r * width + i}' for i in range(width))})" for r in range(nrows))
    return f"INSERT INTO {table_name} (tenant_id, {', '.join(cols)}) VALUES {', '.join(groups)} ON CONFLICT DO NOTHING"


# One exported value of a row (`r.value`, a JSON array from json_each) at index k, decoded in
# SQL the way db/exact.py's bind_value does it in Python: plain values as they are, an
# exact integer {"$i": "digits"} cast back, an integral or infinite REAL {"$r": n} made
# REAL again. BLOBs ({"$b": hex}) never reach this path (restore binds those rows value
# by value), so the SQL needs nothing newer than the local SQLite (no unhex()).
def _json_value_sql(k: int) -> str:
    v, i, r = f"'$[{k}]'", f"""'$[{k}]."$i"'""", f"""'$[{k}]."$r"'"""
    return (f"CASE json_type(r.value, {v}) WHEN 'object' THEN CASE"
            f" WHEN json_type(r.value, {i}) = 'text' THEN CAST(json_extract(r.value, {i}) AS INTEGER)"
            f" WHEN json_type(r.value, {r}) = 'integer' THEN CAST(json_extract(r.value, {r}) AS REAL)"
            f" WHEN json_extract(r.value, {r}) = 'Inf' THEN 9e999 WHEN json_extract(r.value, {r}) = '-Inf' THEN -9e999"
            f" END ELSE json_extract(r.value, {v}) END")


# A row is taken only if it is an array of exactly `width` values, each NULL, a number, a
# text or a well-formed exact-integer / exact-REAL object: anything else leaves the row's
# tenant_id NULL, which every tenant table refuses (NOT NULL), so the whole batch fails
# instead of writing a row the export never had.
def _json_row_ok_sql(width: int) -> str:
    i, r = """'$."$i"'""", """'$."$r"'"""
    digits = f"ltrim(json_extract(v.value, {i}), '-')"
    # IS, not =: a missing key is NULL, and NOT (NULL) would let the object through.
    bad_object = (f"v.type = 'object' AND NOT ((json_type(v.value, {i}) IS 'text' AND {digits} <> ''"
                  f" AND {digits} NOT GLOB '*[^0-9]*') OR json_type(v.value, {r}) IS 'integer'"
                  f" OR coalesce(json_extract(v.value, {r}), '') IN ('Inf', '-Inf'))")
    return (f"json_type(r.value) = 'array' AND json_array_length(r.value) = {width} AND NOT EXISTS"
            f" (SELECT 1 FROM json_each(r.value) AS v WHERE v.type IN ('true', 'false', 'array') OR ({bad_object}))")


@functools.lru_cache(maxsize=256)
def _json_insert_sql(table_name: str, cols: tuple[str, ...]) -> str:
    """`INSERT ... SELECT ... FROM json_each(?2)`: the tenant is ?1 (bound once), the rows
    are ?2, one JSON array of exported rows. A malformed ?2, or an element that is not an
    array, becomes a JSON null row (refused as above), never an SQL error that a step
    would retry."""
    values = ", ".join(_json_value_sql(k) for k in range(len(cols)))
    return (f"INSERT INTO {table_name} (tenant_id, {', '.join(cols)})"
            f" SELECT CASE WHEN {_json_row_ok_sql(len(cols))} THEN ?1 END, {values}"
            " FROM (SELECT CASE type WHEN 'array' THEN value ELSE 'null' END AS value FROM"
            " json_each(CASE WHEN json_valid(?2) AND json_type(?2) = 'array' THEN ?2 ELSE '[null]' END)) AS r"
            " WHERE true ON CONFLICT DO NOTHING")


@dataclass(frozen=True)
class Condition:
    """`EXISTS (SELECT 1 FROM <table> WHERE tenant_id = ? AND ...)`, built by a scope for
    its own tenant: lets statements of one batch apply only while a row is as read
    (optimistic concurrency across several tables in one atomic batch)."""

    sql: str
    params: list
    tenant_id: str
    _key: object = None

    def __post_init__(self) -> None:
        if self._key is not _CONDITION_KEY:
            raise UnscopedQueryError("conditions can only be built by a TenantScope")


_CONDITION_KEY = object()


class TenantScope:
    def __init__(self, proof: _Proof) -> None:
        if not isinstance(proof, _Proof):
            raise UnscopedQueryError("TenantScope needs a verified tenant proof, not a bare id")
        self.tenant_id = proof.tenant_id
        self.d1_binding = proof.d1_binding
        self.source = proof.source

    def __repr__(self) -> str:
        return f"TenantScope({self.tenant_id!r} via {self.source}, {self.d1_binding})"

    # -- building -------------------------------------------------------------------

    def _stmt(self, name: str, sql: str, params: list) -> Statement:
        if len(params) > 100:
            raise UnscopedQueryError(f"{name}: {len(params)} parameters exceed D1's limit of 100")
        return Statement(name, sql, params, self.tenant_id, self.d1_binding, _STATEMENT_KEY)

    @staticmethod
    def _cols(t, names) -> list[str]:
        out = []
        for c in names:
            if not isinstance(c, str) or not _IDENT.match(c) or c not in t.columns:
                raise UnscopedQueryError(f"unknown column {c!r} of {t.name}")
            out.append(c)
        return out

    def _where(self, t, where: dict[str, Any] | None) -> tuple[str, list]:
        clauses = ["tenant_id = ?"]
        params: list = [self.tenant_id]
        for key, value in (where or {}).items():
            col, _, op = key.partition("__")
            op = {"": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "in": "in"}.get(op)
            if op is None:
                raise UnscopedQueryError(f"unknown operator in {key!r}")
            (col,) = self._cols(t, [col])
            if col == "tenant_id":
                raise UnscopedQueryError("tenant_id comes from the scope, never from the caller")
            if op == "in":
                values = list(value)
                if not values or len(values) > MAX_IN_LIST:
                    raise UnscopedQueryError(f"IN list of {len(values)} values (1..{MAX_IN_LIST} allowed)")
                clauses.append(f"{col} IN ({', '.join('?' * len(values))})")
                params += values
            elif value is None and op in ("=", "!="):
                clauses.append(f"{col} IS {'NOT ' if op == '!=' else ''}NULL")
            else:
                clauses.append(f"{col} {_OPS[op]} ?")
                params.append(value)
        return " AND ".join(clauses), params

    def _condition(self, cond: Condition | None) -> tuple[str, list]:
        if cond is None:
            return "", []
        if not isinstance(cond, Condition) or cond.tenant_id != self.tenant_id:
            raise UnscopedQueryError("a condition must come from the same tenant's scope")
        return cond.sql, list(cond.params)

    def exists(self, table_name: str, where: dict) -> Condition:
        """A condition that holds while a row matching `where` exists in this tenant."""
        t = table(table_name)
        if not where:
            raise UnscopedQueryError("a condition must say which row (besides the tenant)")
        clause, params = self._where(t, where)
        return Condition(f"EXISTS (SELECT 1 FROM {t.name} WHERE {clause})", params, self.tenant_id, _CONDITION_KEY)

    def select(self, table_name: str, where: dict | None = None, columns: list[str] | None = None,
               order_by: str | None = None, limit: int | None = None, name: str | None = None) -> Statement:
        t = table(table_name)
        cols = ", ".join(self._cols(t, columns)) if columns else "*"
        clause, params = self._where(t, where)
        sql = f"SELECT {cols} FROM {t.name} WHERE {clause}"
        if order_by:
            col, _, direction = order_by.partition(" ")
            (col,) = self._cols(t, [col])
            if direction.upper() not in ("", "ASC", "DESC"):
                raise UnscopedQueryError(f"bad sort direction {direction!r}")
            sql += f" ORDER BY {col} {direction.upper()}".rstrip()
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return self._stmt(name or f"{t.name}.select", sql, params)

    def count(self, table_name: str, where: dict | None = None, name: str | None = None) -> Statement:
        t = table(table_name)
        clause, params = self._where(t, where)
        return self._stmt(name or f"{t.name}.count", f"SELECT count(*) AS n FROM {t.name} WHERE {clause}", params)

    def sums(self, table_name: str, columns: list[str], where: dict | None = None, group_by: list[str] | None = None,
             name: str | None = None) -> Statement:
        """`SELECT [group...,] coalesce(sum(c), 0) AS c ... GROUP BY group...`: totals of
        numeric columns (budgets, usage views) over the tenant's matching rows."""
        t = table(table_name)
        cols = self._cols(t, columns)
        groups = self._cols(t, group_by or [])
        clause, params = self._where(t, where)
        selected = [*groups, *(f"coalesce(sum({c}), 0) AS {c}" for c in cols)]
        sql = f"SELECT {', '.join(selected)} FROM {t.name} WHERE {clause}"
        if groups:
            sql += f" GROUP BY {', '.join(groups)} ORDER BY {', '.join(groups)}"
        return self._stmt(name or f"{t.name}.sums", sql, params)

    def insert(self, table_name: str, values: dict[str, Any], name: str | None = None,
               only_if: Condition | None = None, returning: bool = False) -> Statement:
        """INSERT of one row; with `only_if`, inserted only while the condition holds;
        with `returning`, the statement answers the row it wrote (no read after write)."""
        t = table(table_name)
        if "tenant_id" in values:
            raise UnscopedQueryError("tenant_id comes from the scope, never from the caller")
        cols = self._cols(t, list(values))
        marks = ", ".join("?" * (len(cols) + 1))
        cond, cond_params = self._condition(only_if)
        if cond:
            sql = f"INSERT INTO {t.name} (tenant_id, {', '.join(cols)}) SELECT {marks} WHERE {cond}"
        else:
            sql = f"INSERT INTO {t.name} (tenant_id, {', '.join(cols)}) VALUES ({marks})"
        if returning:
            sql += " RETURNING *"
        return self._stmt(name or f"{t.name}.insert", sql, [self.tenant_id, *values.values(), *cond_params])

    def update(self, table_name: str, values: dict[str, Any], where: dict, name: str | None = None,
               returning: bool = False, increments: dict[str, float] | None = None,
               only_if: Condition | None = None) -> Statement:
        """UPDATE of the rows matching `where`: `values` set, `increments` added to the
        stored value (so concurrent increments never overwrite each other), and with
        `only_if` applied only while the condition holds."""
        t = table(table_name)
        if not where:
            raise UnscopedQueryError("an update must say which rows (besides the tenant)")
        increments = increments or {}
        if "tenant_id" in values or "tenant_id" in increments:
            raise UnscopedQueryError("tenant_id cannot be changed")
        if not values and not increments:
            raise UnscopedQueryError("an update must change something")
        cols = self._cols(t, list(values))
        inc_cols = self._cols(t, list(increments))
        sets = ", ".join([f"{c} = ?" for c in cols] + [f"{c} = {c} + ?" for c in inc_cols])
        clause, params = self._where(t, where)
        cond, cond_params = self._condition(only_if)
        if cond:
            clause += f" AND {cond}"
        sql = f"UPDATE {t.name} SET {sets} WHERE {clause}" + (" RETURNING *" if returning else "")
        return self._stmt(name or f"{t.name}.update", sql,
                          [*values.values(), *increments.values(), *params, *cond_params])

    def delete(self, table_name: str, where: dict, name: str | None = None) -> Statement:
        t = table(table_name)
        if not where:
            raise UnscopedQueryError("a delete must say which rows (besides the tenant)")
        clause, params = self._where(t, where)
        return self._stmt(name or f"{t.name}.delete", f"DELETE FROM {t.name} WHERE {clause}", params)

    # -- backups ----------------------------------------------------------------------

    def export_columns(self, table_name: str) -> list[str]:
        """The columns an export carries, in file order (tenant_id comes from the scope)."""
        return sorted(table(table_name).columns - {"tenant_id"})

    def export_page(self, table_name: str, after: list | None, limit: int, max_bytes: int,
                    name: str | None = None) -> Statement:
        """One keyset page (never OFFSET) of the tenant's rows in key order, built by SQLite
        as NDJSON lines (db/exact.py json_sql), at most `limit` rows and at most `max_bytes`
        bytes of NDJSON once the REALs are filled in (the first row always, so a page moves
        on). The answer is one sequence of values, EXPORT_ROW_VALUES per result row (the
        last padded with NULLs), so a page costs Python one value per line, not one per
        column, and few result rows:

          the number of lines, then how many rows the page looked at (up to limit + 1:
          more than the lines means the table goes on after this page);
          the lines, in key order (text);
          the REALs the lines leave to Python (exact.SENTINEL), in line and column order."""
        t = table(table_name)
        keys = self._cols(t, list(keyset(table_name)))
        cols = self.export_columns(table_name)
        if not set(keys) <= set(cols) or {"export_line", "export_n", "export_upto"} & set(cols):
            raise UnscopedQueryError(f"{t.name}: the keyset must be exported columns")
        limit, max_bytes = int(limit), int(max_bytes)
        if limit < 1 or max_bytes < 1:
            raise UnscopedQueryError(f"{t.name}: a page needs a positive row and byte budget")
        order = ", ".join(keys)
        params: list = [self.tenant_id]
        where = "tenant_id = ?"
        if after is not None:
            if len(after) != len(keys):
                raise UnscopedQueryError(f"{t.name}: a keyset cursor has {len(keys)} values")
            where += f" AND ({order}) > ({', '.join('?' * len(keys))})"
            params += list(after)
        params += [limit + 1, limit, max_bytes]
        # A line's bytes once filled: its UTF-8 length, the newline, and up to
        # REAL_TEXT_MAX - 1 more for each SENTINEL.
        size = (f"length(CAST(export_line AS BLOB)) + 1 + {exact.REAL_TEXT_MAX - 1} * "
                f"(length(export_line) - length(replace(export_line, char(31), '')))")
        slots = " UNION ALL ".join(f"SELECT {i} AS i" for i in range(len(cols)))
        pick = " ".join(f"WHEN {i} THEN k.{c}" for i, c in enumerate(cols))
        # The sequence folded into rows of `width` values (max() of the one value each
        # column of a group has keeps it as it is, type and all).
        width = EXPORT_ROW_VALUES
        columns = ", ".join(f"max(CASE s % {width} WHEN {k} THEN v END)" for k in range(width))
        sql = (f"WITH page AS (SELECT {', '.join(cols)}, {exact.line_sql(cols)} AS export_line FROM {t.name}"
               f" WHERE {where} ORDER BY {order} LIMIT ?),"
               f" cut AS (SELECT *, row_number() OVER w AS export_n, sum({size}) OVER w AS export_upto FROM page"
               f" WINDOW w AS (ORDER BY {order} ROWS UNBOUNDED PRECEDING)),"
               f" kept AS (SELECT * FROM cut WHERE export_n <= ? AND (export_n = 1 OR export_upto <= ?)),"
               f" items AS (SELECT 0 AS g, 0 AS n, 0 AS i, (SELECT count(*) FROM kept) AS v"
               f" UNION ALL SELECT 0, 0, 1, (SELECT count(*) FROM page)"
               f" UNION ALL SELECT 1, export_n, 0, export_line FROM kept"
               f" UNION ALL SELECT 2, n, i, v FROM (SELECT k.export_n AS n, j.i AS i, CASE j.i {pick} END AS v"
               f" FROM kept AS k, ({slots}) AS j WHERE instr(k.export_line, char(31)) > 0)"
               f" WHERE {exact.needs_python_sql('v')}),"
               f" seq AS (SELECT row_number() OVER (ORDER BY g, n, i) - 1 AS s, v FROM items)"
               f" SELECT {columns} FROM seq GROUP BY s / {width} ORDER BY s / {width}")
        return self._stmt(name or f"{t.name}.export_page", sql, params)

    def insert_exported(self, table_name: str, columns: list[str], rows: list[list],
                        name: str | None = None) -> list[Statement]:
        """Multi-row inserts of exported rows (values as db/exact.py writes them), each
        within D1's 100 bound parameters; the tenant is parameter ?1 of every one. A row
        that is already there (same primary key) is left alone, so a retried restore
        step is idempotent; restore then checks the row counts."""
        t = table(table_name)
        if "tenant_id" in columns:
            raise UnscopedQueryError("tenant_id comes from the scope, never from the caller")
        cols = self._cols(t, columns)
        per_statement = max(1, 99 // max(1, len(cols)))
        out = []
        for start in range(0, len(rows), per_statement):
            group = rows[start:start + per_statement]
            for row in group:
                if len(row) != len(cols):
                    raise UnscopedQueryError(f"{t.name}: a row has {len(row)} values for {len(cols)} columns")
            kinds = set().union(*(map(type, row) for row in group))
            if kinds <= exact.PLAIN_TYPES:  # the common case: one cached SQL text, values as they are
                params = [self.tenant_id]
                for row in group:
                    params.extend(row)
                sql = _plain_insert_sql(t.name, tuple(cols), len(group))
            else:
                sql, params = self._exact_insert_sql(t.name, cols, group)
            out.append(self._stmt(name or f"{t.name}.restore", sql, params))
        return out

    def insert_exported_json(self, table_name: str, columns: list[str], rows_json: str,
                             name: str | None = None) -> Statement:
        """One INSERT of many exported rows given as ONE JSON array text of rows (each a
        JSON array of values in `columns` order, as the export files hold them, without
        BLOBs): SQLite expands it with json_each, so the statement binds two parameters
        whatever the number of rows and Python touches no value. The tenant is ?1, bound
        from this scope; the rows cannot name a tenant (tenant_id is not a column they
        fill, and a row of the wrong width is refused). Already-present rows are left
        alone (idempotent, like insert_exported)."""
        t = table(table_name)
        if "tenant_id" in columns:
            raise UnscopedQueryError("tenant_id comes from the scope, never from the caller")
        if not isinstance(rows_json, str):
            raise UnscopedQueryError("exported rows are bound as one JSON text")
        cols = self._cols(t, columns)
        return self._stmt(name or f"{t.name}.restore", _json_insert_sql(t.name, tuple(cols)),
                          [self.tenant_id, rows_json])

    def _exact_insert_sql(self, table_name: str, cols: list[str], group: list[list]) -> tuple[str, list]:
        params: list = [self.tenant_id]
        groups = []
        for row in group:
            slots = []
            for value in row:
                template, param = exact.bind_value(value)
                params.append(param)
                slots.append(template.replace("{}", f"?{len(params)}"))
            groups.append(f"(?1, {', '.join(slots)})")
        return (f"INSERT INTO {table_name} (tenant_id, {', '.join(cols)}) VALUES {', '.join(groups)}"
                " ON CONFLICT DO NOTHING", params)

    def delete_some(self, table_name: str, limit: int, name: str | None = None) -> Statement:
        """Deletes up to `limit` of the tenant's rows of a table (bounded work per call)."""
        t = table(table_name)
        sql = (f"DELETE FROM {t.name} WHERE tenant_id = ? AND rowid IN "
               f"(SELECT rowid FROM {t.name} WHERE tenant_id = ? LIMIT ?)")
        return self._stmt(name or f"{t.name}.delete_some", sql, [self.tenant_id, self.tenant_id, int(limit)])

    # -- idempotent writes ------------------------------------------------------------

    def insert_once(self, table_name: str, values: dict[str, Any], name: str | None = None) -> Statement:
        """INSERT of one row whose id is stable (made once, kept with the work that made
        it): a replay of the same row changes nothing (ON CONFLICT DO NOTHING), so a write
        retried after a lost acknowledgement never duplicates it."""
        stmt = self.insert(table_name, values, name=name or f"{table(table_name).name}.insert_once")
        return self._stmt(stmt.name, stmt.sql + " ON CONFLICT DO NOTHING", stmt.params)
