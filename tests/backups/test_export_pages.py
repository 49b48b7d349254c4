"""Export pages built by SQLite (each row as its NDJSON line, REALs SQLite cannot print
exactly filled in by Python): values survive export -> restore bit for bit, and every
page keeps to its row and byte budgets."""

import json
import math
import sqlite3
import struct

from backups import format as fmt
from db.database import Database
from db.system import system_scope
from tests.backups.helpers import _ids, export, restore, seed_every_table, tenant_rows, wipe
from tests.conftest import TENANT_A

# Values a text rendering in SQL would bend (SQLite 3.40 prints 15 significant digits),
# the extremes of doubles and integers, and text JSON must escape.
REALS = [0.1 + 0.2, 1 / 3, -2 / 3, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
         123456789.12345679, 0.30000000000000004, 2.0**60, 1e300, -1e22, 9007199254740993.0, 4.5, -0.5,
         math.pi, float("inf"), float("-inf"), 3.0, -7.0]
INTEGERS = [0, -1, 9007199254740991, 9007199254740992, -9007199254740993, 2**63 - 1, -(2**63)]
TEXTS = ["a\x00b", "\x1f", "\x01\x7f\n\t", "Zoë 学习 🚀 \u200f\u2028", 'q"\\/', "", "[1,2]", '{"$r":1}', "1e5x"]


def _typed(rows: dict) -> dict:
    """Rows with every value tagged by its SQLite type, REALs by their bits (1 == 1.0
    and 0.1 + 0.2 == 0.30000000000000004 would hide a change otherwise)."""
    def tag(v):
        if isinstance(v, float):
            return ("real", struct.pack("<d", v))
        return (type(v).__name__, v)
    return {t: sorted((tuple(tag(v) for v in r) for r in rs), key=repr) for t, rs in rows.items()}


def _seed_values(host) -> int:
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)
    ids = _ids(TENANT_A, 0)
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    values = REALS + INTEGERS + TEXTS + [b"", b"\x00\xff", None]
    for n, v in enumerate(values):
        # REAL-affinity columns keep text and integers as given; INTEGER-affinity ones
        # keep non-whole REALs.
        conn.execute("INSERT INTO cognitive_metrics (id, tenant_id, learner_id, average_response_time,"
                     " response_time_variance, pause_frequency, attention_lapses) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (f"v-{n:03d}", TENANT_A, ids["profile"], v, v, v, REALS[n % len(REALS)]))
    conn.commit()
    conn.close()
    return len(values)


async def test_reals_integers_text_and_blobs_survive_export_and_restore_bit_for_bit(host):
    # given a tenant whose rows hold REALs SQL cannot print exactly, big integers,
    # infinities, text with NUL and control characters, unicode and blobs
    n = _seed_values(host)
    before = _typed(tenant_rows(host, TENANT_A))
    stored = {tag for row in before["cognitive_metrics"] for tag in row}
    assert ("real", struct.pack("<d", 0.1 + 0.2)) in stored and ("str", "a\x00b") in stored
    assert ("int", 2**63 - 1) in stored and ("bytes", b"\x00\xff") in stored and len(before["cognitive_metrics"]) >= n

    # when it is exported, wiped and restored
    status = await export(host, TENANT_A)
    assert status["status"] == "complete", status
    wipe(host, TENANT_A)
    done = await restore(host, TENANT_A)

    # then every value is back with its type and its very bits
    assert done["output"]["status"] == "restored", done
    assert _typed(tenant_rows(host, TENANT_A)) == before


async def _pages(host, table: str, limit: int, max_bytes: int) -> list[tuple[bytes, int, bool]]:
    scope = system_scope({"id": TENANT_A, "d1_binding": "D1_PRIMARY"}, "test")
    db = Database(host.env, gateway=None)
    pages, after = [], None
    from db.tables import keyset

    while True:
        answer = await db.raw(scope.export_page(table, after, limit, max_bytes))
        data, rows, more = fmt.page_ndjson(answer, limit, max_bytes)
        pages.append((data, rows, more))
        if not more:
            return pages
        after = fmt.page_cursor(data, scope.export_columns(table), list(keyset(table)))


async def test_pages_keep_to_their_row_and_byte_budgets_and_cover_every_row_once(host):
    # given a table of rows with values of every kind
    n = _seed_values(host)
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    ids = [r[0] for r in conn.execute("SELECT id FROM cognitive_metrics WHERE tenant_id = ? ORDER BY id", (TENANT_A,))]
    conn.close()

    for limit, max_bytes in ((3, 10**6), (1000, 400), (7, 250)):
        # when it is paged with small budgets
        pages = await _pages(host, "cognitive_metrics", limit, max_bytes)

        # then no page exceeds its rows, none its bytes unless it is one row, the last says
        # it is the last, and the pages hold every row once, in key order, as its exact line
        assert all(rows <= limit and (len(data) <= max_bytes or rows == 1) for data, rows, _ in pages)
        assert [more for *_, more in pages] == [True] * (len(pages) - 1) + [False]
        lines = [json.loads(line) for data, *_ in pages for line in data.decode().split("\n") if line]
        id_at = sorted(fmt_columns("cognitive_metrics")).index("id")
        assert [line[id_at] for line in lines] == ids and len(ids) >= n
    assert len(await _pages(host, "cognitive_metrics", 3, 10**6)) == math.ceil(len(ids) / 3)


def fmt_columns(table):
    from db.tables import TABLES

    return TABLES[table].columns - {"tenant_id"}


async def test_a_row_larger_than_the_byte_budget_is_a_page_of_its_own(host):
    seed_every_table(host.d1["D1_PRIMARY"].path, TENANT_A)  # one question of ~280 KB text
    pages = await _pages(host, "questions", 100, 1000)
    assert [(rows, more) for _, rows, more in pages] == [(1, False)] and len(pages[0][0]) > 1000


async def test_an_empty_table_is_one_empty_page(host):
    pages = await _pages(host, "chat_messages", 100, 1000)
    assert pages == [(b"", 0, False)]
