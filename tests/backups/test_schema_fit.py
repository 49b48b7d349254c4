"""The data layer's table list matches the schema closely enough for backups: every
column is exported, every keyset is unique per tenant, parents come before children."""

import sqlite3

from db.tables import TABLES, keyset
from tests.conftest import TENANT_A


def _conn(host):
    return sqlite3.connect(host.d1["D1_PRIMARY"].path)


async def test_declared_columns_are_exactly_the_schema_columns(host):
    conn = _conn(host)
    for name, t in TABLES.items():
        cols = {r[1] for r in conn.execute(f"PRAGMA table_info({name})")}
        assert cols == set(t.columns), name
    tenant_tables = {r[0] for r in conn.execute("SELECT m.name FROM sqlite_master m WHERE m.type = 'table'")
                     if "tenant_id" in {c[1] for c in conn.execute(f"PRAGMA table_info({r[0]})")}}
    # every tenant-owned table is exported; metrics is operational (tenant_id may be NULL)
    # and registration links are single-use admin artifacts, not the institution's data
    assert tenant_tables - set(TABLES) == {"metrics", "registration_links"}
    conn.close()


async def test_every_keyset_is_unique_within_a_tenant(host):
    conn = _conn(host)
    for name in TABLES:
        wanted = ["tenant_id", *keyset(name)]
        unique = []
        for idx in conn.execute(f"PRAGMA index_list({name})"):
            if idx[2]:  # unique
                unique.append([r[2] for r in conn.execute(f"PRAGMA index_info({idx[1]})")])
        pk = [r[1] for r in sorted(conn.execute(f"PRAGMA table_info({name})"), key=lambda r: r[5]) if r[5]]
        assert wanted in unique or sorted(wanted) == sorted(pk) or list(keyset(name)) == pk, name
    conn.close()


async def test_tables_are_listed_parents_before_children(host):
    conn = _conn(host)
    order = list(TABLES)
    for name in TABLES:
        for fk in conn.execute(f"PRAGMA foreign_key_list({name})"):
            parent = fk[2]
            if parent in TABLES and parent != name:
                assert order.index(parent) < order.index(name), (parent, name)
    conn.close()


async def test_export_pages_use_an_index(host):
    from db.system import system_scope

    conn = _conn(host)
    s = system_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "test")
    for name in TABLES:
        for after in (None, ["x"] * len(keyset(name))):
            stmt = s.export_page(name, after, 100, 4096)
            plan = list(conn.execute(f"EXPLAIN QUERY PLAN {stmt.sql}", stmt.params))
            assert not any(p[3].startswith(f"SCAN {name}") for p in plan), (name, plan)
            # the index gives the page's order: no sort of the tenant's rows before LIMIT
            # (only the page's own few rows are sorted, outside it)
            search = [p for p in plan if p[3].startswith(f"SEARCH {name}")]
            assert len(search) == 1, (name, plan)
            assert not any("TEMP B-TREE" in p[3] and p[1] == search[0][1] for p in plan), (name, plan)
    conn.close()


def test_export_page_statements_fit_d1s_statement_length_and_parameter_limits():
    # D1 refuses an SQL statement over 100,000 bytes and more than 100 bound parameters;
    # the export builds each row's JSON in SQL, so its text grows with the table's width.
    from db.system import system_scope

    s = system_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "test")
    for name in TABLES:
        stmt = s.export_page(name, ["x"] * len(keyset(name)), 4000, 512 * 1024)
        assert len(stmt.sql.encode()) < 100_000 and len(stmt.params) <= 100, name
