"""Durable Object storage contract: the local host's objects and miniflare's answer the
same calls with the same values and the same refusals (SQL through ctx.storage.sql.exec,
the key-value API, alarms)."""

from __future__ import annotations

import asyncio
import time

from .remote import RemoteBindingError


async def refused(call) -> str:
    try:
        await call
    except (RemoteBindingError, Exception) as exc:  # the local object raises, the probe reports
        return str(exc)
    raise AssertionError("the call was not refused")


async def test_sql_round_trips_every_type_and_reports_the_rows_it_wrote(probe_object):
    await probe_object.sql("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)")
    wrote = await probe_object.sql("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [42, 2.5, "héllo ☃", b"\x00\xff", None])
    assert wrote["rowsWritten"] == 1 and wrote["rows"] == []
    got = await probe_object.sql("SELECT i, r, s, b, n FROM t")
    assert got["columnNames"] == ["i", "r", "s", "b", "n"]
    assert got["rows"] == [{"i": 42, "r": 2.5, "s": "héllo ☃", "b": b"\x00\xff", "n": None}]
    assert got["rowsRead"] >= 1 and got["rowsWritten"] == 0


async def test_sql_raw_gives_rows_as_lists(probe_object):
    await probe_object.sql("CREATE TABLE t (a, b)")
    await probe_object.sql("INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    assert await probe_object.sqlRaw("SELECT a, b FROM t ORDER BY a") == [[1, "x"], [2, "y"]]


async def test_one_needs_exactly_one_row(probe_object):
    await probe_object.sql("CREATE TABLE t (a)")
    assert "Expected exactly one result" in await refused(probe_object.sqlOne("SELECT a FROM t"))
    await probe_object.sql("INSERT INTO t VALUES (1), (2)")
    assert "Expected exactly one result" in await refused(probe_object.sqlOne("SELECT a FROM t"))
    assert await probe_object.sqlOne("SELECT count(*) AS n FROM t") == {"n": 2}


async def test_a_script_runs_every_statement_and_binds_only_the_last(probe_object):
    await probe_object.sql("CREATE TABLE t (a); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")
    assert (await probe_object.sql("SELECT count(*) AS n FROM t"))["rows"] == [{"n": 2}]
    got = await probe_object.sql("INSERT INTO t VALUES (3); SELECT count(*) AS n FROM t WHERE a >= ?", [2])
    assert got["rows"] == [{"n": 2}]
    reason = await refused(probe_object.sql("INSERT INTO t VALUES (?); SELECT 1", [3]))
    assert "only the last statement can have parameters" in reason


async def test_sql_errors_are_refused_with_sqlites_reason(probe_object):
    assert "syntax error" in await refused(probe_object.sql("SELEC 1"))
    assert "no such table" in await refused(probe_object.sql("SELECT * FROM nowhere"))
    await probe_object.sql("CREATE TABLE u (k TEXT PRIMARY KEY)")
    await probe_object.sql("INSERT INTO u VALUES ('a')")
    assert "UNIQUE constraint failed" in await refused(probe_object.sql("INSERT INTO u VALUES ('a')"))


async def test_key_value_storage_keeps_structured_values(probe_object):
    values = {"int": 7, "float": 1.5, "str": "ü", "true": True, "list": [1, "two", None], "dict": {"a": {"b": [1]}},
              "bytes": b"\x01\x02"}
    await probe_object.put(values)
    assert await probe_object.get("dict") == {"a": {"b": [1]}}
    assert await probe_object.get(list(values)) == values
    assert await probe_object.get("missing") is None
    assert await probe_object.get(["missing", "int"]) == {"int": 7}


async def test_delete_says_what_it_deleted(probe_object):
    await probe_object.put({"a": 1, "b": 2, "c": 3})
    assert await probe_object.delete("a") is True
    assert await probe_object.delete("a") is False
    assert await probe_object.delete(["b", "c", "nope"]) == 2


async def test_list_orders_keys_and_honours_its_options(probe_object):
    await probe_object.put({k: i for i, k in enumerate(["b", "a", "ab", "c", "d"])})
    assert list(await probe_object.list()) == ["a", "ab", "b", "c", "d"]
    assert list(await probe_object.list({"prefix": "a"})) == ["a", "ab"]
    assert list(await probe_object.list({"start": "ab", "end": "d"})) == ["ab", "b", "c"]
    assert list(await probe_object.list({"reverse": True, "limit": 2})) == ["d", "c"]
    assert await probe_object.list({"prefix": "ab"}) == {"ab": 2}


async def test_delete_all_removes_every_key_and_table(probe_object):
    await probe_object.put({"a": 1})
    await probe_object.sql("CREATE TABLE t (a)")
    await probe_object.deleteAll()
    assert await probe_object.list() == {}
    tables = await probe_object.sql("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 't'")
    assert tables["rows"] == []


async def test_an_alarm_is_kept_fires_once_and_is_then_cleared(probe_object):
    assert await probe_object.getAlarm() is None
    at = int(time.time() * 1000) + 400
    await probe_object.setAlarm(at)
    assert await probe_object.getAlarm() == at
    for _ in range(100):  # until it has fired (generous: the deadline is not what is tested)
        log = await probe_object.sql("SELECT count(*) AS n FROM sqlite_master WHERE name = 'alarm_log'")
        if log["rows"][0]["n"] and (await probe_object.sql("SELECT count(*) AS n FROM alarm_log"))["rows"][0]["n"]:
            break
        await asyncio.sleep(0.1)
    assert (await probe_object.sql("SELECT retry FROM alarm_log"))["rows"] == [{"retry": 0}]
    assert await probe_object.getAlarm() is None


async def test_a_deleted_alarm_does_not_fire(probe_object):
    await probe_object.setAlarm(int(time.time() * 1000) + 300)
    await probe_object.deleteAlarm()
    assert await probe_object.getAlarm() is None
    await asyncio.sleep(0.8)
    log = await probe_object.sql("SELECT count(*) AS n FROM sqlite_master WHERE name = 'alarm_log'")
    assert log["rows"] == [{"n": 0}]
