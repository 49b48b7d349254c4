"""A made-up class for the insight pages: N learners x K concepts with mastery, answers,
struggle flags, offers of help and gradebook progress, written through the data layer
(the tenant's own scope, multi-row inserts). Deterministic: the same arguments give the
same class, and `expected_cells` says what every heatmap cell must show. Used by the
tests, the bench and `python -m devhost seed-class` (the demo course's screenshots)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

CONCEPT_NAMES = ["Counting", "Addition", "Subtraction", "Multiplication", "Division", "Fractions", "Decimals",
                 "Percentages", "Ratios", "Negative numbers", "Exponents", "Equations", "Inequalities", "Functions",
                 "Graphs", "Probability"]
FIRST_NAMES = ["Ada", "Alan", "Grace", "Katherine", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret",
               "Claude", "Hedy", "Tim", "Radia", "Ken", "Dorothy", "Linus", "Shafi", "Leslie", "Jean"]
LAST_NAMES = ["Lovelace", "Turing", "Hopper", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus",
              "Hamilton", "Shannon", "Lamarr", "Berners-Lee", "Perlman", "Thompson", "Vaughan", "Torvalds",
              "Goldwasser", "Lamport", "Sammet"]


@dataclass
class SeededClass:
    course: str
    concepts: list[dict]
    learners: list[dict]                     # {id, user_id, name, session_id}
    cells: dict[tuple[str, str], float | None] = field(default_factory=dict)   # (user_id, concept) -> mastery
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)   # user ids with a flag in the last days

    def members(self) -> list[dict]:
        """The roster an NRPS service would answer for this class."""
        return [{"user_id": l["user_id"], "name": l["name"], "status": "Active",
                 "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]} for l in self.learners]


def concept_id(course: str, j: int) -> str:
    return f"{course}-c{j + 1:02d}"


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def plan(course: str, learners: int, concepts: int, now_s: float, prefix: str = "student",
         concept_prefix: str | None = None) -> SeededClass:
    """The class (pure): who, which concepts (a prerequisite chain with a second root),
    and each learner's mastery per concept."""
    cs = []
    stem = concept_prefix or course  # concept ids are one key space across institutions
    for j in range(concepts):
        prereq = [] if j in (0, 4) else [concept_id(stem, j - 1)]
        if j == 5 and concepts > 5:
            prereq.append(concept_id(stem, 3))
        # names are unique per institution: a second class of one institution gets its own
        cs.append({"id": concept_id(stem, j), "name": CONCEPT_NAMES[j % len(CONCEPT_NAMES)] +
                   ("" if j < len(CONCEPT_NAMES) else f" {j // len(CONCEPT_NAMES) + 1}") +
                   (f" ({concept_prefix})" if concept_prefix else ""), "prerequisites": prereq})
    out = SeededClass(course, cs, [])
    for i in range(learners):
        name = f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[(i * 7 + i // len(FIRST_NAMES)) % len(LAST_NAMES)]}"
        if i >= len(FIRST_NAMES):
            name += f" {i // len(FIRST_NAMES) + 1}"
        user = f"{prefix}-{i + 1:04d}"
        out.learners.append({"user_id": user, "name": name})
        skill = ((i * 37) % 100) / 100
        for j in range(concepts):
            difficulty = j / max(1, concepts)
            if skill + 0.35 < difficulty:
                out.cells[(user, cs[j]["id"])] = None
                out.attempts[(user, cs[j]["id"])] = 0
                continue
            mastery = round(min(0.99, max(0.02, 0.55 + skill - difficulty + ((i + j) % 5 - 2) * 0.05)), 4)
            out.cells[(user, cs[j]["id"])] = mastery
            out.attempts[(user, cs[j]["id"])] = 12 if (i * 3 + j) % 23 == 0 and mastery < 0.95 else 3 + (i + j) % 6
        if i % 7 == 3:
            out.flagged.append(user)
    return out


async def seed(env, tenant_id: str, course: str, learners: int, concepts: int = 12, now_s: float | None = None,
               prefix: str = "student", d1_binding: str = "D1_PRIMARY",
               concept_prefix: str | None = None) -> SeededClass:
    """Writes the class into the tenant's database."""
    import clock
    from db.database import Database
    from db.profiles import new_id
    from db.system import system_scope

    now_s = clock.now(env) if now_s is None else now_s
    now = datetime.fromtimestamp(now_s, UTC)
    cls = plan(course, learners, concepts, now_s, prefix, concept_prefix)
    scope = system_scope({"id": tenant_id, "d1_binding": d1_binding}, "class-seed")
    db = Database(env)
    statements = []
    for c in cls.concepts:
        statements.append(scope.insert("knowledge_graph", {
            "concept_id": c["id"], "concept_name": c["name"], "dependencies": json.dumps(c["prerequisites"]),
            "course_contexts": json.dumps([course])}, name="seed.concept"))
        statements.append(scope.insert("concept_parameters", {
            "concept_id": c["id"], "p_init": 0.3, "p_transit": 0.1, "p_slip": 0.1, "p_guess": 0.25, "fitted": 1,
            "fit": json.dumps({"rows": 1200, "learners": 80, "held_out": {"auc": 0.81, "calibration_error": 0.02,
                                                                          "rows": 300}})}, name="seed.params"))
    for c in cls.concepts:
        statements.append(scope.insert("questions", {
            "id": f"q-{c['id']}", "question_text": f"A question on {c['name']}", "question_type": "clarifying",
            "subject": "math", "topic": "general", "concept": c["id"], "difficulty_level": 5,
            "estimated_time_seconds": 60}, name="seed.question"))
    await db.batch(statements, name="seed.graph")

    profiles, sessions, states, events, helps, progress, answers = [], [], [], [], [], [], []
    for i, l in enumerate(cls.learners):
        l["id"], l["session_id"] = new_id(), new_id()
        profiles.append([l["id"], l["user_id"]])
        start = now - timedelta(days=i % 5, hours=1)
        sessions.append([l["session_id"], l["id"], course, "learner", _iso(start)])
        total = 0.0
        for c in cls.concepts:
            m = cls.cells[(l["user_id"], c["id"])]
            if m is None:
                continue
            total += m
            attempts = cls.attempts[(l["user_id"], c["id"])]
            for k in range(min(attempts, 3)):  # the latest answers: time studied and study days
                at = now - timedelta(days=(i + k) % 3, minutes=5 * k + len(states) % 50)
                answers.append([new_id(), l["id"], l["session_id"], f"q-{c['id']}", "", 40.0 + (i + k) % 60,
                                1 if k < attempts * m else 0, c["id"], _iso(at)])
            correct = max(0, round(attempts * m))
            reviewed = now - timedelta(days=(i + len(c["id"])) % 4, hours=2)
            stability = 30.0 if m >= 0.95 else 3.0
            states.append([new_id(), l["id"], "math", "general", c["id"], m, m, attempts, correct, attempts - correct,
                           _iso(reviewed), _iso(reviewed + timedelta(days=stability)), stability, 5.0, 2,
                           _iso(reviewed - timedelta(days=1)), _iso(reviewed)])
        score = round(100 * total / len(cls.concepts), 2)
        progress.append([new_id(), l["id"], course, score, score if i % 3 == 0 else None,
                         _iso(now - timedelta(hours=5)) if i % 3 == 0 else None])
        if l["user_id"] in cls.flagged:
            c = cls.concepts[(i * 5) % len(cls.concepts)]
            eid = new_id()
            # Codes valid in every schema version (migration 0001's vocabulary).
            evidence = {"wrong_in_a_row": 4, "attempts": 9}
            events.append([eid, l["id"], l["session_id"], c["id"], "repeated_error", 0.8,
                           json.dumps({"score": 0.8, "state": "struggling", "concept": c["id"], "reasons": [
                               {"code": "repeated_error", "strength": 0.8, "concept_id": c["id"],
                                "evidence": evidence}]}), _iso(now - timedelta(days=1 + i % 3))])
            helps.append([new_id(), l["id"], l["session_id"], eid, "review_prompt",
                          ["accepted", "dismissed", "ignored"][i % 3], _iso(now - timedelta(days=1 + i % 3))])
        if i % 11 == 5:
            c = cls.concepts[(i * 3) % len(cls.concepts)]
            events.append([new_id(), l["id"], l["session_id"], c["id"], "idle", 0.6,
                           json.dumps({"reasons": [{"code": "idle", "evidence": {"idle_s": 420}}]}),
                           _iso(now - timedelta(days=10))])
    writes = []
    writes += scope.insert_exported("learner_profiles", ["id", "lti_user_id"], profiles, name="seed.profiles")
    writes += scope.insert_exported("learning_sessions", ["id", "learner_id", "course_context", "course_role",
                                                          "session_start"], sessions, name="seed.sessions")
    writes += scope.insert_exported("knowledge_state", [
        "id", "learner_id", "subject", "topic", "concept", "mastery_level", "p_learned", "review_count",
        "correct_count", "incorrect_count", "last_reviewed", "next_review_date", "memory_stability",
        "memory_difficulty", "memory_state", "first_exposure", "updated_at"], states, name="seed.states")
    writes += scope.insert_exported("question_responses", [
        "id", "learner_id", "session_id", "question_id", "response_text", "response_time_seconds", "is_correct",
        "concept", "responded_at"], answers, name="seed.answers")
    writes += scope.insert_exported("student_progress", ["id", "learner_id", "course_context", "average_mastery",
                                                         "passed_back_score", "passed_back_at"], progress,
                                    name="seed.progress")
    writes += scope.insert_exported("struggle_events", ["id", "learner_id", "session_id", "concept_id", "event_type",
                                                        "severity", "signals", "detected_at"], events,
                                    name="seed.events")
    writes += scope.insert_exported("intervention_logs", ["id", "learner_id", "session_id", "struggle_event_id",
                                                          "intervention_type", "outcome", "delivered_at"], helps,
                                    name="seed.help")
    for k in range(0, len(writes), 200):
        await db.batch(writes[k:k + 200], name="seed.class")
    return cls
