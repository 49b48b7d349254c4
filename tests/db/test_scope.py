"""Tenant scope is structural: no statement without a verified tenant, and every
statement the scope builds is bound to that tenant."""

import pytest

from db.database import Database
from db.scope import Statement, TenantScope, issue_proof
from db.system import system_scope
from db.tables import UnscopedQueryError
from tests.conftest import TENANT_A


def scope(tenant=TENANT_A):
    return system_scope({"id": tenant, "d1_binding": "D1_PRIMARY"}, "test")


def test_a_scope_cannot_be_built_from_a_bare_tenant_id():
    with pytest.raises(UnscopedQueryError, match="verified tenant proof"):
        TenantScope(TENANT_A)


def test_a_proof_cannot_be_forged_without_the_module_key():
    from db.scope import _Proof

    with pytest.raises(UnscopedQueryError):
        _Proof(object(), TENANT_A, "D1_PRIMARY", "forged")


def test_a_statement_cannot_be_built_outside_a_scope():
    with pytest.raises(UnscopedQueryError):
        Statement("x", "SELECT * FROM learner_profiles", [], TENANT_A, "D1_PRIMARY")


async def test_the_database_refuses_raw_sql(host):
    with pytest.raises(TypeError, match="only statements built"):
        await Database(host.env).all("SELECT * FROM learner_profiles")


@pytest.mark.parametrize("build", [
    lambda s: s.select("tenants"),                                        # not a tenant-owned table
    lambda s: s.select("learner_profiles; DROP TABLE x"),                 # identifier injection
    lambda s: s.select("learner_profiles", {"tenant_id": "other"}),       # tenant from the caller
    lambda s: s.select("learner_profiles", {"nope": 1}),                  # unknown column
    lambda s: s.insert("learner_profiles", {"tenant_id": "other", "id": "x", "lti_user_id": "u"}),
    lambda s: s.update("learner_profiles", {"version": 2}, {}),           # update of every row
    lambda s: s.delete("learner_profiles", {}),                           # delete of every row
    lambda s: s.select("learner_profiles", {"id__in": list(range(200))}),  # past D1's parameter cap
])
def test_unscoped_or_unsafe_statements_cannot_be_built(build):
    with pytest.raises(UnscopedQueryError):
        build(scope())


def test_every_built_statement_binds_the_scope_tenant_first():
    s = scope()
    for stmt in [s.select("learner_profiles", {"id": "x"}), s.count("chat_messages", {"learner_id": "y"}),
                 s.delete("struggle_events", {"id": "z"}), s.insert("learner_profiles", {"id": "i", "lti_user_id": "u"})]:
        assert "tenant_id = ?" in stmt.sql or stmt.sql.startswith("INSERT INTO learner_profiles (tenant_id,")
        assert TENANT_A in stmt.params
    upd = s.update("learner_profiles", {"version": 3}, {"id": "x"})
    assert upd.sql.endswith("WHERE tenant_id = ? AND id = ?") and upd.params[-2:] == [TENANT_A, "x"]


def test_scope_routes_to_the_tenants_dedicated_database():
    s = TenantScope(issue_proof(TENANT_A, "D1_DEDICATED_A", "test"))
    assert s.select("learner_profiles", {"id": "x"}).d1_binding == "D1_DEDICATED_A"


def test_only_the_verifiers_issue_tenant_proofs():
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src"
    callers = sorted(str(p.relative_to(src)) for p in src.rglob("*.py")
                     if p.name != "scope.py" and re.search(r"\bissue_proof\(", p.read_text()))
    assert callers == ["auth/session.py", "db/system.py", "lti/launch_flow.py"]


def test_backup_statements_are_bound_to_the_scope_tenant():
    s = scope()
    page = s.export_page("lti_deployments", ["p1", "d1"], 500, 4096)
    assert "WHERE tenant_id = ? AND (platform_id, deployment_id) > (?, ?)" in page.sql and "OFFSET" not in page.sql
    assert page.params == [TENANT_A, "p1", "d1", 501, 500, 4096]  # rows looked at, rows kept, bytes kept
    (insert,) = s.insert_exported("chat_messages", ["content", "id"], [["hi", "m1"], [{"$b": "00ff"}, "m2"]])
    assert insert.sql.startswith("INSERT INTO chat_messages (tenant_id, content, id) VALUES (?1, ?2, ?3), (?1, ?4, ?5)")
    assert insert.params == [TENANT_A, "hi", "m1", b"\x00\xff", "m2"]
    delete = s.delete_some("chat_messages", 10)
    assert delete.params == [TENANT_A, TENANT_A, 10] and delete.sql.count("tenant_id = ?") == 2


@pytest.mark.parametrize("build", [
    lambda s: s.insert_exported("chat_messages", ["tenant_id", "id"], [["x", "y"]]),  # tenant from the caller
    lambda s: s.insert_exported("chat_messages", ["nope"], [["x"]]),                 # unknown column
    lambda s: s.insert_exported("chat_messages", ["id"], [["x", "extra"]]),           # ragged row
    lambda s: s.export_page("tenants", None, 10, 100),                                 # not a tenant table
    lambda s: s.export_page("chat_messages", ["a", "b"], 10, 100),                     # wrong cursor width
    lambda s: s.export_page("chat_messages", None, 0, 100),                            # no row budget
    lambda s: s.export_page("chat_messages", None, 10, 0),                             # no byte budget
    lambda s: s.delete_some("tenants", 10),
])
def test_backup_statements_cannot_escape_the_scope(build):
    with pytest.raises(UnscopedQueryError):
        build(scope())


def test_multi_row_inserts_stay_within_d1s_parameter_limit():
    s = scope()
    cols = s.export_columns("learning_sessions")
    stmts = s.insert_exported("learning_sessions", cols, [[None] * len(cols)] * 50)
    assert sum(st.sql.count("), (") + 1 for st in stmts) == 50
    assert all(len(st.params) <= 100 for st in stmts)



def test_conditions_and_increments_stay_scoped_to_the_tenant():
    s = scope()
    cond = s.exists("knowledge_state", {"id": "k", "version": 3})
    ins = s.insert("question_responses", {"id": "r", "learner_id": "l"}, only_if=cond)
    assert ins.sql == ("INSERT INTO question_responses (tenant_id, id, learner_id) SELECT ?, ?, ? WHERE EXISTS "
                       "(SELECT 1 FROM knowledge_state WHERE tenant_id = ? AND id = ? AND version = ?)")
    assert ins.params == [TENANT_A, "r", "l", TENANT_A, "k", 3]
    upd = s.update("concept_parameters", {}, {"concept_id": "c"}, increments={"difficulty": -0.5,
                                                                               "difficulty_count": 1}, only_if=cond)
    assert upd.sql == ("UPDATE concept_parameters SET difficulty = difficulty + ?, difficulty_count = "
                       "difficulty_count + ? WHERE tenant_id = ? AND concept_id = ? AND EXISTS (SELECT 1 FROM "
                       "knowledge_state WHERE tenant_id = ? AND id = ? AND version = ?)")
    assert upd.params == [-0.5, 1, TENANT_A, "c", TENANT_A, "k", 3]


@pytest.mark.parametrize("build", [
    lambda s, other: s.insert("question_responses", {"id": "r"}, only_if=other.exists("knowledge_state", {"id": "k"})),
    lambda s, other: s.update("knowledge_state", {"version": 2}, {"id": "k"},
                              only_if=other.exists("knowledge_state", {"id": "k"})),
    lambda s, other: s.update("knowledge_state", {}, {"id": "k"}, increments={"tenant_id": 1}),
    lambda s, other: s.update("knowledge_state", {}, {"id": "k"}, increments={"nope": 1}),
    lambda s, other: s.update("knowledge_state", {}, {"id": "k"}),
    lambda s, other: s.exists("knowledge_state", {}),
    lambda s, other: s.exists("knowledge_state", {"tenant_id": "x"}),
])
def test_conditions_from_another_tenant_or_unsafe_increments_cannot_be_built(build):
    with pytest.raises(UnscopedQueryError):
        build(scope(), scope("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"))


def test_a_condition_cannot_be_forged_outside_a_scope():
    from db.scope import Condition

    with pytest.raises(UnscopedQueryError):
        Condition("EXISTS (SELECT 1)", [], TENANT_A)


def test_json_restore_binds_the_tenant_once_and_the_rows_as_one_text():
    s = scope()
    stmt = s.insert_exported_json("chat_messages", ["content", "id"], '[["hi","m1"],["yo","m2"]]')
    assert stmt.sql.startswith("INSERT INTO chat_messages (tenant_id, content, id) SELECT CASE WHEN")
    assert "THEN ?1 END" in stmt.sql and "json_each(" in stmt.sql and stmt.sql.endswith("ON CONFLICT DO NOTHING")
    assert stmt.params == [TENANT_A, '[["hi","m1"],["yo","m2"]]']


@pytest.mark.parametrize("build", [
    lambda s: s.insert_exported_json("chat_messages", ["tenant_id", "id"], '[["x","y"]]'),  # tenant from the caller
    lambda s: s.insert_exported_json("chat_messages", ["nope"], '[["x"]]'),                # unknown column
    lambda s: s.insert_exported_json("tenants", ["id"], '[["x"]]'),                        # not a tenant table
    lambda s: s.insert_exported_json("chat_messages", ["id"], [["x"]]),                    # rows not as JSON text
])
def test_json_restore_cannot_escape_the_scope(build):
    with pytest.raises(UnscopedQueryError):
        build(scope())


async def _profiles(host, tenant):
    rows = await Database(host.env).all(scope(tenant).select("learner_profiles", columns=["id", "lti_user_id"],
                                                             order_by="id"))
    return [(r["id"], r["lti_user_id"]) for r in rows]


async def test_json_restore_writes_only_the_scope_tenants_rows(host):
    from tests.conftest import TENANT_B

    # given tenant B owns a profile
    db = Database(host.env)
    await db.run(scope(TENANT_B).insert("learner_profiles", {"id": "b-1", "lti_user_id": "b-user"}))
    # when tenant A's scope restores rows, one of which names B's row and B's tenant id as values
    rows = '[["a-1","a-user"],["b-1","b-user"],["a-2","%s"]]' % TENANT_B
    await db.batch([scope().insert_exported_json("learner_profiles", ["id", "lti_user_id"], rows)], name="t")
    # then the rows written are A's, B's row (its id is taken) is neither taken over nor changed
    assert await _profiles(host, TENANT_A) == [("a-1", "a-user"), ("a-2", TENANT_B)]
    assert await _profiles(host, TENANT_B) == [("b-1", "b-user")]


@pytest.mark.parametrize("rows", [
    '[["a-1"]]',                              # too few values
    '[["a-1","u","%s"]]' % TENANT_A,          # one more value (a tenant id cannot ride along)
    '[["a-1",true]]',                         # not a value D1 stores
    '[["a-1",{"$x":1}]]',                     # an unknown exact value
    '[["a-1",{"$i":"12a"}]]',                 # an exact integer that is not digits
    '[["a-1",["u"]]]',                        # an array as a value
    'not json', '{"a":1}', '["a-1"]',         # not an array of rows
])
async def test_json_restore_refuses_a_row_that_is_not_a_row_of_the_table(host, rows):
    from db.database import ConstraintViolation

    ok = '[["a-0","fine"]]'
    with pytest.raises(ConstraintViolation):
        await Database(host.env).batch([scope().insert_exported_json("learner_profiles", ["id", "lti_user_id"], ok),
                                        scope().insert_exported_json("learner_profiles", ["id", "lti_user_id"], rows)],
                                       name="t")
    assert await _profiles(host, TENANT_A) == []  # the whole batch was refused


async def test_json_restore_is_idempotent_and_exact(host):
    import json
    import math
    import random
    import struct

    # given exported rows of knowledge_state with doubles of every kind, exact integers and REALs
    rng = random.Random(5)
    doubles = [rng.random() for _ in range(200)] + [
        struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(300)]
    doubles = [d for d in doubles if math.isfinite(d)]
    cols = ["id", "learner_id", "subject", "topic", "concept", "ability_estimate", "review_count", "ability_evidence"]
    s = scope()
    db = Database(host.env)
    await db.run(s.insert("learner_profiles", {"id": "p", "lti_user_id": "u"}))
    rows = [[f"k{i}", "p", "学习 🚀", "line\nbreak \"q\" \\", f"c{i}", d, {"$i": str(2**62 + i)}, {"$r": i}]
            for i, d in enumerate(doubles)]
    rows.append(["kinf", "p", "s", "t", "c", {"$r": "-Inf"}, {"$i": str(2**63 - 1)}, {"$r": "Inf"}])
    text = json.dumps(rows, separators=(",", ":"))
    # when they are restored twice (a retried step)
    for _ in range(2):
        await db.batch([s.insert_exported_json("knowledge_state", cols, text)], name="t")
    # then each value is the very value exported, once
    got = await db.all(s.select("knowledge_state", columns=["id", "ability_estimate", "review_count", "ability_evidence",
                                                           "topic", "subject"]))
    by_id = {r["id"]: r for r in got}
    assert len(got) == len(rows)
    for i, d in enumerate(doubles):
        r = by_id[f"k{i}"]
        assert r["ability_estimate"] == d and r["topic"] == "line\nbreak \"q\" \\" and r["subject"] == "学习 🚀"
    import sqlite3

    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    exact = conn.execute("SELECT review_count, typeof(ability_evidence), ability_evidence, ability_estimate"
                         " FROM knowledge_state WHERE id IN ('k3', 'kinf') ORDER BY id").fetchall()
    conn.close()
    assert exact == [(2**62 + 3, "real", 3.0, doubles[3]), (2**63 - 1, "real", math.inf, -math.inf)]
