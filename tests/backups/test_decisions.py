"""The pure decisions of backups: restore target, verify batches, page sizing, parts,
manifest checks, retention, signed links, exact value binding."""

import json

import pytest

from backups import format as fmt
from backups.restore import VERIFY_BYTES, choose_target, verify_groups
from db import exact

BOTH = ["D1_PRIMARY", "D1_DEDICATED_A"]


def test_restore_goes_to_another_database_than_the_serving_one():
    assert choose_target("D1_PRIMARY", None, BOTH) == "D1_DEDICATED_A"
    assert choose_target("D1_DEDICATED_A", None, BOTH) == "D1_PRIMARY"
    assert choose_target("D1_PRIMARY", "D1_DEDICATED_A", BOTH) == "D1_DEDICATED_A"
    assert choose_target(None, None, BOTH) == "D1_PRIMARY"  # tenant not in the directory: empty database
    for current, into, configured, why in [("D1_PRIMARY", "D1_PRIMARY", BOTH, "served from"),
                                           ("D1_PRIMARY", "D1_X", BOTH, "not configured"),
                                           ("D1_PRIMARY", None, ["D1_PRIMARY"], "no other")]:
        with pytest.raises(ValueError, match=why):
            choose_target(current, into, configured)


def test_verification_is_split_into_bounded_batches():
    objects = [{"key": str(i), "bytes": VERIFY_BYTES // 3} for i in range(7)]
    groups = verify_groups(objects)
    assert [len(g) for g in groups] == [3, 3, 1] and sum(groups, []) == objects
    assert verify_groups([]) == []


def test_a_page_answer_becomes_ndjson_with_each_real_printed_exactly_where_sql_left_it():
    # given the counts (2 lines kept of 3 looked at), the lines, then the REALs, in rows
    # of a fixed width padded with NULLs
    answer = [[2, 3, '["a",\x1f,{"$r":2}]'], ['[\x1f,"\\u001f",\x1f]', 0.1 + 0.2, 2.0**60], [10**300, None, None]]
    data, rows, more = fmt.page_ndjson(answer, 2, 1000)
    assert data == b'["a",0.30000000000000004,{"$r":2}]\n[1.152921504606847e+18,"\\u001f",1e+300]\n'
    assert rows == 2 and more is True
    assert [type(v) for line in data.splitlines() for v in json.loads(line)] == [str, float, dict, float, str, float]
    assert fmt.page_ndjson([[1, 1, '[1]']], 1, 1000) == (b"[1]\n", 1, False)
    assert fmt.page_ndjson([[0, 0, None]], 5, 10) == (b"", 0, False)


def test_a_page_answer_that_breaks_a_budget_or_loses_a_real_is_refused():
    for answer, limit, max_bytes in (([1, 1, '[\x1f]'], 5, 100),          # a REAL slot without its value
                                     ([1, 1, '[1]', 0.5], 5, 100),       # a value without its slot
                                     ([1, 1, '[\x1f]', "x"], 5, 100),    # a "REAL" that is text
                                     ([1, 1, '[\x1f]', float("inf")], 5, 100),  # not a finite REAL
                                     ([2, 2, '[1]', '[2]'], 1, 100),     # more rows than the limit
                                     ([2, 2, '[1]', '[2]'], 5, 7),       # more bytes than the budget
                                     ([2, 2, '[1]'], 5, 100),            # fewer lines than it says
                                     (['[1]'], 5, 100),                  # no counts
                                     ([0, 0, 1.5], 5, 100),              # values without lines
                                     ([1, 1, 1], 5, 100)):               # a line that is not text
        with pytest.raises(ValueError):
            fmt.page_ndjson([answer], limit, max_bytes)
    assert fmt.page_ndjson([[1, 1, '[' + "1," * 50 + '1]']], 5, 10)[1] == 1  # one row over the budget: its own page


def test_the_cursor_is_the_last_lines_key_values_as_sql_compares_them():
    data = b'["x",1,"k1"]\n["y",{"$i":"9007199254740993"},"k2"]\n'
    assert fmt.page_cursor(data, ["a", "b", "id"], ["id"]) == ["k2"]
    assert fmt.page_cursor(data, ["a", "b", "id"], ["a", "b"]) == ["y", 9007199254740993]
    assert fmt.page_cursor(b'[{"$r":3},2.5]\n', ["a", "b"], ["a", "b"]) == [3.0, 2.5]
    with pytest.raises(ValueError):
        fmt.page_cursor(b'[{"$b":"00"}]\n', ["a"], ["a"])


def test_parts_are_equal_but_the_last_and_gzip_is_deterministic():
    data = b"x" * (2 * fmt.PART_BYTES + 3)
    assert [len(p) for p in fmt.parts(data)] == [fmt.PART_BYTES, fmt.PART_BYTES, 3]
    lines = fmt.encode_lines([[1, "é", None], [{"$b": "00"}]])
    assert fmt.gzip_bytes(lines) == fmt.gzip_bytes(lines)
    assert fmt.read_chunk(fmt.gzip_bytes(lines)) == [[1, "é", None], [{"$b": "00"}]]
    assert fmt.encode_lines([]) == b""


def test_a_manifest_of_another_tenant_or_format_or_with_foreign_keys_is_refused():
    good = {"format": fmt.FORMAT, "tenant": {"id": "t1"}, "day": "2026-01-05",
            "tables": [{"name": "x", "columns": ["id"], "objects": [{"key": "exports/t1/2026-01-05/x/00001.ndjson.gz"}]}]}
    assert fmt.check_manifest(good, "t1", "2026-01-05") is good
    for bad, why in [({**good, "format": "other"}, "format"), (good, "another tenant"),
                     ({**good, "tables": [{"name": "x"}]}, "columns"),
                     ({**good, "tables": [{"name": "x", "columns": [], "objects": [{"key": "exports/t2/x"}]}]}, "outside")]:
        with pytest.raises(fmt.ManifestError, match=why):
            fmt.check_manifest(bad, "t2" if why == "another tenant" else "t1", "2026-01-05")


def test_retention_keeps_the_newest_n_and_spares_running_and_todays_runs():
    complete = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]
    assert fmt.retention_plan(complete, [], set(), 2, "2026-01-04") == ["2026-01-01", "2026-01-02"]
    assert fmt.retention_plan(complete, ["2025-12-30", "2025-12-31", "2026-01-05"], {"2025-12-31"}, 30,
                              "2026-01-05") == ["2025-12-30"]
    assert fmt.retention_plan(complete, [], set(), 0, "x") == ["2026-01-01", "2026-01-02", "2026-01-03"]


def test_signed_links_bind_key_and_expiry():
    sig = fmt.sign_link("secret" * 8, "exports/t/2026-01-05/manifest.json", 1000)
    assert fmt.link_is_valid("secret" * 8, "exports/t/2026-01-05/manifest.json", 1000, sig, 999)
    assert not fmt.link_is_valid("secret" * 8, "exports/t/2026-01-05/manifest.json", 1000, sig, 1001)
    assert not fmt.link_is_valid("secret" * 8, "exports/u/2026-01-05/manifest.json", 1000, sig, 999)
    assert not fmt.link_is_valid("other" * 8, "exports/t/2026-01-05/manifest.json", 1000, sig, 999)


def test_exact_values_bind_to_the_stored_type():
    assert exact.bind_value({"$b": "00ff"}) == ("{}", b"\x00\xff")
    assert exact.bind_value({"$i": "-9223372036854775808"}) == ("CAST({} AS INTEGER)", "-9223372036854775808")
    assert exact.bind_value({"$r": 3}) == ("CAST({} AS REAL)", 3)
    assert exact.bind_value({"$r": "-Inf"}) == ("{}", float("-inf"))
    assert exact.bind_value("é") == ("{}", "é") and exact.bind_value(None) == ("{}", None)
    for bad in ({"$i": "12; DROP"}, {"$x": 1}, [1], True):
        with pytest.raises(ValueError):
            exact.bind_value(bad)
    assert exact.encode_row("..", [1, "a"]) == [1, "a"]
    assert exact.encode_row("bir", ["00", "12", 2]) == [{"$b": "00"}, {"$i": "12"}, {"$r": 2}]
    assert exact.marker_sql([]) == "''"


def test_restore_parts_join_plain_lines_into_one_json_array():
    text = '["a",1]\n["b",{"$r":2}]\n'
    assert fmt.restore_parts(text) == (['[["a",1],["b",{"$r":2}]]'], [], 2)
    assert fmt.restore_parts("") == ([], [], 0)


def test_restore_parts_keep_blob_and_nul_rows_for_value_by_value_binding():
    text = '["a",1]\n["b",{"$b":"00ff"}]\n["c","x\\u0000y"]\n["d","{\\"$b\\" in text"]\n'
    arrays, exact, rows = fmt.restore_parts(text)
    assert arrays == ['[["a",1],["d","{\\"$b\\" in text"]]'] and rows == 4
    assert exact == ['["b",{"$b":"00ff"}]', '["c","x\\u0000y"]']


def test_restore_parts_stay_within_the_character_budget():
    lines = [json.dumps([f"r{i}", "x" * 30]) for i in range(100)] + [json.dumps(["huge", "y" * 500])]
    arrays, exact, rows = fmt.restore_parts("\n".join(lines) + "\n", budget=200)
    assert rows == 101 and exact == [lines[-1]]
    assert all(len(a) <= 200 for a in arrays)
    assert [r for a in arrays for r in json.loads(a)] == [json.loads(line) for line in lines[:-1]]
