"""Knowledge-graph decisions: imports refused with the offending ids, readiness."""

from learner import graph as kg
from learner import progress


def C(cid, *prereqs, name=None, contexts=("course-1",)):
    return kg.Concept(cid, name or cid.title(), tuple(prereqs), tuple(contexts))


def kinds(plan):
    return {p.kind: list(p.ids) for p in plan.problems}


def test_a_valid_import_is_planned_with_created_and_updated_ids():
    existing = {"a": C("a")}
    plan = kg.plan_import([C("a", name="A2"), C("b", "a")], existing)
    assert plan.problems == [] and plan.created == ("b",) and plan.updated == ("a",)
    assert plan.graph["a"].name == "A2"


def test_a_cycle_is_refused_naming_every_concept_on_it():
    plan = kg.plan_import([C("a", "c"), C("b", "a"), C("c", "b"), C("d", "a")], {})
    assert kinds(plan) == {"cycle": ["a", "b", "c"]}
    assert plan.graph == {}


def test_a_cycle_through_an_existing_concept_is_refused():
    plan = kg.plan_import([C("a", "b")], {"b": C("b", "a")})
    assert kinds(plan) == {"cycle": ["a", "b"]}


def test_unknown_self_duplicate_and_foreign_ids_are_all_named():
    plan = kg.plan_import([C("a", "ghost"), C("b", "b"), C("c"), C("c"), C("x", name="A")], {}, foreign_ids=["x"])
    assert kinds(plan) == {"unknown_prerequisite": ["ghost"], "self_prerequisite": ["b"], "duplicate_id": ["c"],
                           "foreign_concept": ["x"], "duplicate_name": ["a", "x"]}


def test_cycle_detection_handles_long_chains_without_recursion():
    chain = {f"c{i}": C(f"c{i}", f"c{i - 1}") if i else C("c0") for i in range(5000)}
    assert kg.cycle_members(chain) == set()
    chain["c0"] = C("c0", "c4999")
    assert len(kg.cycle_members(chain)) == 5000


def test_readiness_needs_every_prerequisite_mastered_and_changes_are_reported():
    g = {"a": C("a"), "b": C("b"), "c": C("c", "a", "b")}
    assert kg.readiness("c", g, {"a"}) == kg.Readiness("c", False, ("b",))
    assert kg.readiness("c", g, {"a", "b"}).ready
    assert kg.readiness("a", g, set()).ready
    changes = kg.readiness_changes(g, "b", {"a"}, {"a", "b"})
    assert changes == [kg.Readiness("c", True, ())]
    assert kg.readiness_changes(g, "b", set(), {"b"}) == []
    assert kg.course_concepts({"a": C("a"), "z": C("z", contexts=("other",))}, "course-1") == ["a"]


def test_course_score_crossing_and_evidence_comment():
    assert progress.course_score(["a", "b"], {"a": 1.0}) == 50.0
    assert progress.course_score([], {}) == 0.0
    up = progress.crossing(70.0, 85.0, 80.0)
    assert up.reached and not up.lost
    assert progress.crossing(None, 80.0).reached
    assert progress.crossing(85.0, 90.0).reached is False
    assert progress.crossing(85.0, 60.0).lost
    text = progress.evidence_comment("Fractions", 12, 9, 0.8, "2026-02-03T10:00:00.000Z", 0.91)
    assert text == ("Fractions: mastery 91% from 12 attempt(s), 9 right; recent accuracy 80%; "
                    "last practised 2026-02-03.")
