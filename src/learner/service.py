"""The learner model over D1: reads what a decision needs, calls the pure functions of
model/graph/memory/progress, and writes the outcome in one batch. No decisions here."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime

from db.database import ConstraintViolation, Database
from db.profiles import new_id, now_iso
from db.scope import TenantScope
from db.system import concepts_of_other_tenants
from learner import graph as kg
from learner import memory as mem
from learner import model as lm
from learner import progress

MAX_ATTEMPTS = 5  # optimistic-concurrency retries of one answer
MODEL_NAME = "tenant"  # learner_models row of the tenant-wide model (per-course models may follow)
IN_CHUNK = 90


class LearnerError(Exception):
    """A request the model cannot serve; `status` and `kind` say how to answer it."""

    def __init__(self, status: int, kind: str, detail: str, extra: dict | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.extra = extra or {}


def _loads(value, default):
    if value is None:
        return default
    return json.loads(value) if isinstance(value, str) else value


loads_json = _loads  # shared with practice (same column conventions)


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _chunks(items: list, n: int = IN_CHUNK):
    for i in range(0, len(items), n):
        yield items[i:i + n]


# -- rows <-> model ------------------------------------------------------------------------

def concept_from_row(row: dict) -> kg.Concept:
    return kg.Concept(row["concept_id"], row["concept_name"], tuple(_loads(row["dependencies"], [])),
                      tuple(_loads(row["course_contexts"], [])), row.get("subject") or "general",
                      row.get("topic") or "general")


def state_from_row(row: dict) -> tuple[lm.ConceptState, mem.Memory]:
    state = lm.ConceptState(
        p_known=float(row["p_learned"]), attempts=int(row["review_count"]), correct=int(row["correct_count"]),
        incorrect=int(row["incorrect_count"]), recent=float(row["recent_accuracy"]),
        skill=float(row["ability_estimate"]), evidence=float(row["ability_evidence"]),
        information=float(row["ability_information"]), rapid_guesses=int(row["rapid_guess_count"]),
        streak=int(row["streak"]))
    memory = mem.Memory(
        stability=None if row["memory_stability"] is None else float(row["memory_stability"]),
        difficulty=None if row["memory_difficulty"] is None else float(row["memory_difficulty"]),
        state=int(row["memory_state"] or 1), step=row["memory_step"],
        last_review=mem.from_iso(row["last_reviewed"]), due=mem.from_iso(row["next_review_date"]))
    return state, memory


def state_values(state: lm.ConceptState, memory: mem.Memory, bkt: lm.BKTParams) -> dict:
    """knowledge_state columns for a state (the seed's columns kept filled)."""
    return {
        "mastery_level": state.p_known, "p_learned": state.p_known,
        # Confidence in the mastery estimate: 1 - the standard error of the concept ability.
        "confidence_level": max(0.0, min(1.0, 1.0 - state.skill_se)),
        "ability_estimate": state.skill, "ability_std_error": state.skill_se,
        "ability_evidence": state.evidence, "ability_information": state.information,
        "p_transit": bkt.p_transit, "p_slip": bkt.p_slip, "p_guess": bkt.p_guess,
        "review_count": state.attempts, "correct_count": state.correct, "incorrect_count": state.incorrect,
        "recent_accuracy": state.recent, "streak": state.streak, "rapid_guess_count": state.rapid_guesses,
        "memory_stability": memory.stability, "memory_difficulty": memory.difficulty,
        "memory_state": memory.state if memory.reviewed else None, "memory_step": memory.step if memory.reviewed else None,
        "last_reviewed": mem.to_iso(memory.last_review), "next_review_date": mem.to_iso(memory.due),
        **mem.sm2_columns(memory),
    }


def bkt_from_row(row: dict | None, default: lm.BKTParams) -> lm.BKTParams:
    if row is None:
        return default
    return lm.BKTParams(float(row["p_init"]), float(row["p_transit"]), float(row["p_slip"]), float(row["p_guess"]),
                        float(row["p_forget"]))


# -- reads ---------------------------------------------------------------------------------

async def load_graph(db: Database, scope: TenantScope) -> dict[str, kg.Concept]:
    rows = await db.all(scope.select("knowledge_graph", {}, order_by="concept_id", name="graph.all"))
    return {r["concept_id"]: concept_from_row(r) for r in rows}


async def load_model(db: Database, scope: TenantScope) -> tuple[lm.ModelParams, dict]:
    row = await db.first(scope.select("learner_models", {"name": MODEL_NAME}, name="learner_model.get"))
    if row is None:
        return lm.ModelParams(), {}
    return lm.ModelParams.from_dict(_loads(row["params"], {})), _loads(row["fit"], {})


async def concept_parameters(db: Database, scope: TenantScope, concept_ids: list[str]) -> dict[str, dict]:
    out = {}
    for chunk in _chunks(sorted(set(concept_ids))):
        rows = await db.all(scope.select("concept_parameters", {"concept_id__in": chunk}, name="concept_params.get"))
        out.update({r["concept_id"]: r for r in rows})
    return out


async def learner_states(db: Database, scope: TenantScope, learner_id: str) -> dict[str, dict]:
    rows = await db.all(scope.select("knowledge_state", {"learner_id": learner_id}, name="knowledge.of_learner"))
    return {r["concept"]: r for r in rows}


# -- knowledge graph import ------------------------------------------------------------------

async def import_graph(db: Database, scope: TenantScope, incoming: list[kg.Concept]) -> kg.ImportPlan:
    """Validates and stores an import in one batch; refused imports change nothing."""
    existing = await load_graph(db, scope)
    foreign: list[str] = []
    ids = sorted({c.id for c in incoming})
    for chunk in _chunks(ids):
        rows = await db.all(concepts_of_other_tenants(chunk, scope.tenant_id, scope.d1_binding))
        foreign += [r["concept_id"] for r in rows]
    plan = kg.plan_import(incoming, existing, foreign)
    if plan.problems:
        return plan
    params, _fit = await load_model(db, scope)
    now = now_iso()
    statements = []
    for c in incoming:
        values = {"concept_name": c.name, "dependencies": _dumps(list(c.prerequisites)),
                  "course_contexts": _dumps(list(c.course_contexts)), "subject": c.subject, "topic": c.topic}
        if c.id in existing:
            statements.append(scope.update("knowledge_graph", {**values, "updated_at": now}, {"concept_id": c.id},
                                           name="graph.update"))
        else:
            statements.append(scope.insert("knowledge_graph", {"concept_id": c.id, **values}, name="graph.insert"))
            d = params.default_bkt
            statements.append(scope.insert("concept_parameters", {
                "concept_id": c.id, "p_init": d.p_init, "p_transit": d.p_transit, "p_slip": d.p_slip,
                "p_guess": d.p_guess, "p_forget": d.p_forget}, name="concept_params.insert"))
    if statements:
        try:
            await db.batch(statements, name="graph.import")
        except ConstraintViolation as exc:
            raise LearnerError(409, "concurrent-import", "The graph changed while importing; send the import again.",
                               {"constraint": exc.kind}) from None
    return plan


# -- fitted parameters -----------------------------------------------------------------------

async def load_parameters(db: Database, scope: TenantScope, document: dict, create_concepts: bool = False) -> dict:
    """Stores a params.json document (scripts/learner-model fit) for the tenant: the model
    (default BKT, Elo, predictor weights, figures) and each concept's BKT, difficulty and
    fit figures. Unknown concepts are refused by id unless `create_concepts`."""
    if document.get("format") != lm.PARAMS_FORMAT:
        raise LearnerError(422, "params-format", f"params.json must have \"format\": \"{lm.PARAMS_FORMAT}\".")
    try:
        params = lm.ModelParams.from_dict(document)
    except ValueError as exc:
        raise LearnerError(422, "params-invalid", str(exc)) from None
    concepts = document.get("concepts") or {}
    if not isinstance(concepts, dict):
        raise LearnerError(422, "params-invalid", "concepts must be an object keyed by concept id")
    parsed: dict[str, tuple[lm.BKTParams, float, int, dict]] = {}
    bad: dict[str, str] = {}
    for cid, entry in concepts.items():
        try:
            if not isinstance(entry, dict) or not isinstance(cid, str) or not 1 <= len(cid) <= 100:
                raise ValueError("must be an object keyed by a concept id of 1..100 characters")
            bkt = lm.bkt_from_dict(entry, cid)
            difficulty = float(entry.get("difficulty", 0.0))
            count = int(entry.get("difficulty_count", 0))
            if not math.isfinite(difficulty) or count < 0:
                raise ValueError("difficulty must be finite and difficulty_count not negative")
            fit = entry.get("fit") or {}
            if not isinstance(fit, dict):
                raise ValueError("fit must be an object")
            parsed[cid] = (bkt, difficulty, count, fit)
        except (ValueError, TypeError) as exc:
            bad[str(cid)] = str(exc)
    if bad:
        raise LearnerError(422, "params-invalid", "Some concepts' parameters are unusable.",
                           {"concepts": bad})
    graph = await load_graph(db, scope)
    unknown = sorted(set(parsed) - set(graph))
    if unknown and not create_concepts:
        raise LearnerError(422, "unknown-concepts", "params.json names concepts that are not in the knowledge graph.",
                           {"ids": unknown[:200], "count": len(unknown)})
    if unknown:
        plan = await import_graph(db, scope, [kg.Concept(cid, f"Concept {cid}") for cid in unknown])
        if plan.problems:
            raise LearnerError(422, "graph-refused", "The missing concepts cannot be created.",
                               {"problems": [p.as_dict() for p in plan.problems]})
    now = now_iso()
    fit = document.get("fit") or {}
    source = document.get("source") or {}
    statements = [scope.delete("learner_models", {"name": MODEL_NAME}, name="learner_model.clear"),
                  scope.insert("learner_models", {"name": MODEL_NAME, "params": _dumps(params.to_dict()), "fit": _dumps(fit),
                                                  "source": _dumps(source), "loaded_at": now},
                               name="learner_model.insert")]
    for cid, (bkt, difficulty, count, cfit) in parsed.items():
        statements.append(scope.update("concept_parameters", {
            "p_init": bkt.p_init, "p_transit": bkt.p_transit, "p_slip": bkt.p_slip, "p_guess": bkt.p_guess,
            "p_forget": bkt.p_forget, "difficulty": difficulty, "difficulty_count": count, "fitted": 1,
            "fit": _dumps(cfit), "fitted_at": now, "updated_at": now}, {"concept_id": cid},
            name="concept_params.load"))
    for i in range(0, len(statements), 200):
        # One tenant's whole model in one batch when it fits; large concept sets in a few.
        await db.batch(statements[i:i + 200], name="learner_model.load")
    return {"concepts_loaded": len(parsed), "concepts_created": len(unknown), "loaded_at": now}


# -- answers ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    question_id: str
    credit: float
    response_time_s: float
    hints: int = 0
    response_text: str = ""
    # The FSRS grade (1 Again .. 4 Easy) when the learner gave one (a flashcard self-grade);
    # None: derived from credit, hints and time (memory.rating_for).
    rating: int | None = None

    def fingerprint(self) -> str:
        fields = [self.question_id, self.credit, self.response_time_s, self.hints, self.response_text]
        if self.rating is not None:  # absent from older answers' fingerprints, so their replays still match
            fields.append(self.rating)
        return hashlib.sha256(_dumps(fields).encode()).hexdigest()


def response_id(tenant_id: str, learner_id: str, key: str) -> str:
    """The same (tenant, learner, idempotency key) always names the same response row."""
    h = hashlib.sha256(f"{tenant_id}\x1f{learner_id}\x1f{key}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-8{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


async def _session_for(db: Database, scope: TenantScope, learner_id: str, context_id: str,
                       session_id: str | None) -> str:
    if session_id:
        row = await db.first(scope.select("learning_sessions", {"id": session_id, "learner_id": learner_id},
                                          columns=["id"], name="sessions.get_own"))
        if row is not None:
            return row["id"]
    row = await db.first(scope.select("learning_sessions", {"learner_id": learner_id, "course_context": context_id},
                                      columns=["id"], order_by="session_start DESC", limit=1,
                                      name="sessions.latest_in_course"))
    if row is None:
        raise LearnerError(404, "no-session", "You have no learning session in this course; launch the tool first.")
    return row["id"]


def typical_time(question: dict) -> float | None:
    if question.get("estimated_time_seconds"):
        return float(question["estimated_time_seconds"])
    asked = int(question.get("times_asked") or 0)
    if asked >= 5:
        return float(question.get("response_time_total_seconds") or 0.0) / asked
    return None


def mastery_view(concept: kg.Concept | None, concept_id: str, state: lm.ConceptState, memory: mem.Memory,
                 now: datetime) -> dict:
    recall = mem.recall_probability(memory, now)
    return {
        "concept_id": concept_id, "name": concept.name if concept else concept_id,
        "mastery": round(state.p_known, 6), "mastered": state.mastered,
        "status": mem.status(state.mastered, state.attempts, recall),
        "recall_probability": round(recall, 6), "half_life_days": _round(mem.half_life_days(memory.stability)),
        "next_review": mem.to_iso(memory.due) if memory.reviewed else None,
        "last_practised": mem.to_iso(memory.last_review),
        "attempts": state.attempts, "correct": state.correct, "incorrect": state.incorrect,
        "recent_accuracy": round(state.recent, 6), "rapid_guesses": state.rapid_guesses,
        "concept_ability": round(state.skill, 6), "concept_ability_se": round(state.skill_se, 6),
    }


def _round(x: float | None, n: int = 6) -> float | None:
    return None if x is None else round(x, n)


# Columns of the response row a caller may fill besides the answer itself (practice
# activities: where it was given and the feedback the learner got).
RESPONSE_EXTRA_COLUMNS = frozenset({"activity_id", "feedback_text", "feedback_type", "misconceptions_detected"})


async def record_answer(db: Database, scope: TenantScope, *, learner_id: str, context_id: str,
                        session_id: str | None, key: str, answer: Answer, now_ms: int,
                        response_extra: dict | None = None) -> tuple[dict, bool]:
    """Records one answer and updates the learner's state for its concept in one batch.
    Returns (result, replayed). A replay of the same key returns the stored result.
    `response_extra` adds RESPONSE_EXTRA_COLUMNS to the question_responses row."""
    if response_extra and not set(response_extra) <= RESPONSE_EXTRA_COLUMNS:
        raise ValueError(f"response_extra may set only {sorted(RESPONSE_EXTRA_COLUMNS)}")
    rid = response_id(scope.tenant_id, learner_id, key)
    fingerprint = answer.fingerprint()
    for _attempt in range(MAX_ATTEMPTS):
        stored = await db.first(scope.select("question_responses", {"id": rid}, columns=["result", "request_hash"],
                                             name="responses.by_id"))
        if stored is not None:
            if stored["request_hash"] != fingerprint:
                raise LearnerError(422, "idempotency-key-reused",
                                   "This Idempotency-Key was already used for a different answer.")
            return _loads(stored["result"], {}), True
        prepared = await _prepare(db, scope, learner_id, context_id, session_id, rid, key, answer, fingerprint, now_ms,
                                  response_extra or {})
        try:
            results = await db.batch(prepared.statements, name="responses.record")
        except ConstraintViolation as exc:
            if exc.kind == "unique":
                continue  # a concurrent first answer on the concept, or the same key at once: read again
            raise
        if not prepared.conditional or results[-1]["meta"]["changes"] == 1:
            return prepared.result, False
    raise LearnerError(409, "contention", "Too many concurrent answers on this concept; send the answer again.")


@dataclass
class _Prepared:
    statements: list
    result: dict
    # True: the statements apply only while the state is as read; the last one (the state
    # update) reports through its change count whether they did. False: a first answer,
    # whose INSERT fails outright if another one got there first.
    conditional: bool


async def _prepare(db, scope, learner_id, context_id, session_id, rid, key, answer: Answer, fingerprint,
                   now_ms, response_extra: dict | None = None) -> _Prepared:
    question = await db.first(scope.select("questions", {"id": answer.question_id}, name="questions.get"))
    if question is None:
        raise LearnerError(404, "no-question", "No such question.")
    session = await _session_for(db, scope, learner_id, context_id, session_id)
    graph = await load_graph(db, scope)
    concept_id = question["concept"]
    concept = graph.get(concept_id)
    if concept is None:
        if await db.first(concepts_of_other_tenants([concept_id], scope.tenant_id, scope.d1_binding)):
            # another institution's concept answers like a missing one
            raise LearnerError(404, "no-concept", "No such concept.")
        raise LearnerError(422, "unknown-concept", f"The question's concept {concept_id!r} is not in the knowledge graph.",
                           {"ids": [concept_id]})
    params, _fit = await load_model(db, scope)
    cparams = (await concept_parameters(db, scope, [concept_id])).get(concept_id)
    bkt = bkt_from_row(cparams, params.default_bkt)
    difficulty = float(cparams["difficulty"]) if cparams else 0.0
    difficulty_count = int(cparams["difficulty_count"]) if cparams else 0
    rows = await learner_states(db, scope, learner_id)
    states = {c: state_from_row(r) for c, r in rows.items()}
    ability = lm.learner_ability(s for s, _m in states.values())
    row = rows.get(concept_id)
    state, memory = states.get(concept_id) or (lm.new_state(bkt), mem.Memory())
    now = mem.from_epoch_ms(now_ms)
    typical = typical_time(question)
    response = lm.Response(answer.credit, answer.response_time_s, answer.hints, typical)
    upd = lm.update(state, response, ability, difficulty, difficulty_count, bkt, params)
    new_state = upd.state
    new_memory = memory
    retention = None
    if not upd.rapid_guess:
        rating = (mem.Rating(answer.rating) if answer.rating is not None else
                  mem.rating_for(lm.evidence_credit(response), answer.hints, answer.response_time_s, typical))
        new_memory = mem.review(memory, rating, now)
        if row is not None and memory.reviewed and (now - memory.last_review).total_seconds() >= 86400:
            learned = mem.from_iso(row["first_exposure"]) or memory.last_review
            retention = {  # a spaced retrieval: a retention test in seed 001's sense
                "id": new_id(), "learner_id": learner_id, "concept": concept_id,
                "initial_learning_date": mem.to_iso(learned),
                "initial_mastery_level": state.p_known, "test_date": mem.to_iso(now),
                "days_since_learning": max(0, int((now - learned).total_seconds() // 86400)),
                "retention_score": lm.evidence_credit(response),
                "half_life_days": mem.half_life_days(new_memory.stability),
                "decay_rate": mem.decay_rate(new_memory.stability), "test_type": "recall",
                "review_count_before_test": state.attempts, "last_review_date": mem.to_iso(memory.last_review)}
    mastered_before = {c for c, (s, _m) in states.items() if s.mastered}
    mastered_after = (mastered_before | {concept_id}) if new_state.mastered else (mastered_before - {concept_id})
    changes = kg.readiness_changes(graph, concept_id, mastered_before, mastered_after)
    new_ability = ability.plus(state, new_state)
    # The course score after this answer and whether it crosses the course's threshold.
    course_ids = kg.course_concepts(graph, context_id)
    mastery_now = {c: float(r["mastery_level"]) for c, r in rows.items()}
    mastery_now[concept_id] = new_state.p_known
    score = progress.course_score(course_ids or sorted(mastery_now), mastery_now)
    settings = await course_settings(db, scope, context_id)
    prev = await db.first(scope.select("student_progress", {"learner_id": learner_id, "course_context": context_id},
                                       name="progress.get"))
    cross = progress.crossing(float(prev["average_mastery"]) if prev else None, score, settings["mastery_threshold"])
    view = mastery_view(concept, concept_id, new_state, new_memory, now)
    # Where the learner stands on the concept's prerequisites (struggle detection offers a
    # review of a weak one; the page can name it).
    prerequisites = []
    for pid in concept.prerequisites:
        prow = rows.get(pid)
        pstate, pmemory = states[pid] if prow is not None else (None, None)
        prerequisites.append({"concept_id": pid,
                              "mastery": round(pstate.p_known, 6) if pstate is not None else None,
                              "recall": round(mem.recall_probability(pmemory, now), 6)
                              if pmemory is not None and pmemory.reviewed else None})
    result = {
        "response_id": rid, "question_id": answer.question_id, "concept_id": concept_id,
        "learning_session_id": session, "recorded_at": mem.to_iso(now),
        "rapid_guess": upd.rapid_guess, "counted_as_evidence": not upd.rapid_guess,
        "prediction_before": {"p_correct": round(upd.prediction.p_correct, 6), "p_bkt": round(upd.prediction.p_bkt, 6),
                              "p_ability": round(upd.prediction.p_ability, 6)},
        "mastery": view,
        "ability": {"theta": round(new_ability.theta, 6), "se": round(new_ability.se, 6)},
        "next_review": view["next_review"],
        "wheelspin_risk": round(lm.wheelspin_risk(new_state, bkt), 6) if new_state.attempts < lm.WHEELSPIN_ATTEMPTS else None,
        "typical_time_s": typical,
        "prerequisites": prerequisites,
        "readiness_changes": [{"concept_id": r.concept_id, "ready": r.ready, "missing": list(r.missing)}
                              for r in changes],
        "course": {"course_context": context_id, "score": score, "threshold": settings["mastery_threshold"],
                   "reached": cross.reached,
                   # the route passes a reached score back once the answer is stored
                   "gradebook": {"status": "pending" if cross.reached else "not_needed"}},
    }
    now_text = mem.to_iso(now)
    values = {**state_values(new_state, new_memory, bkt), "subject": concept.subject, "topic": concept.topic,
              "updated_at": now_text}
    response_row = {
        "id": rid, "learner_id": learner_id, "session_id": session, "question_id": answer.question_id,
        "response_text": answer.response_text, "response_time_seconds": answer.response_time_s,
        "hints_used": answer.hints, "is_correct": 1 if answer.credit >= 0.5 else 0, "partial_credit": answer.credit,
        "responded_at": now_text, "idempotency_key": key, "concept": concept_id,
        "rapid_guess": 1 if upd.rapid_guess else 0, "request_hash": fingerprint, "result": _dumps(result),
        **(response_extra or {})}
    right = answer.credit >= 0.5 and not upd.rapid_guess
    side = []  # increments: never overwrite a concurrent writer
    if not upd.rapid_guess:
        side.append(("concept_parameters", {"difficulty": upd.difficulty_delta, "difficulty_count": 1},
                     {"concept_id": concept_id}, "concept_params.difficulty"))
    side.append(("questions", {"times_asked": 1, "response_time_total_seconds": answer.response_time_s},
                 {"id": answer.question_id}, "questions.count_answer"))
    side.append(("learning_sessions", {"questions_answered": 1, "questions_correct": 1 if right else 0},
                 {"id": session}, "sessions.count_answer"))
    progress_values = {"average_mastery": score, "last_activity": mem.to_iso(now)}
    statements = []
    if row is None:
        statements.append(scope.insert("knowledge_state", {
            "id": new_id(), "learner_id": learner_id, "concept": concept_id, "first_exposure": now_text,
            "version": 1, **values}, name="knowledge.create"))
        statements.append(scope.insert("question_responses", response_row, name="responses.insert"))
        for table, inc, where, name in side:
            statements.append(scope.update(table, {}, where, increments=inc, name=name))
        if retention:
            statements.append(scope.insert("retention_tracking", retention, name="retention.insert"))
        statements.append(_progress_statement(scope, prev, learner_id, context_id, progress_values, None))
        return _Prepared(statements, result, conditional=False)
    else:
        version = int(row["version"])
        as_read = scope.exists("knowledge_state", {"id": row["id"], "version": version})
        statements.append(scope.insert("question_responses", response_row, only_if=as_read, name="responses.insert_if"))
        for table, inc, where, name in side:
            statements.append(scope.update(table, {}, where, increments=inc, only_if=as_read, name=name + "_if"))
        if retention:
            statements.append(scope.insert("retention_tracking", retention, only_if=as_read,
                                           name="retention.insert_if"))
        statements.append(_progress_statement(scope, prev, learner_id, context_id, progress_values, as_read))
        # Last: it bumps the version every statement above was conditioned on.
        statements.append(scope.update("knowledge_state", {**values, "version": version + 1},
                                       {"id": row["id"], "version": version}, name="knowledge.update"))
    return _Prepared(statements, result, conditional=True)


def _progress_statement(scope, prev, learner_id, context_id, values, only_if):
    """student_progress keeps the latest course score (a first one is inserted; a
    concurrent first insert fails the batch, which is then retried)."""
    if prev is None:
        return scope.insert("student_progress", {"id": new_id(), "learner_id": learner_id,
                                                 "course_context": context_id, **values},
                            only_if=only_if, name="progress.insert" + ("_if" if only_if else ""))
    return scope.update("student_progress", values, {"id": prev["id"]}, only_if=only_if,
                        name="progress.update" + ("_if" if only_if else ""))


# -- reads for the API -------------------------------------------------------------------------

async def my_mastery(db: Database, scope: TenantScope, learner_id: str, context_id: str, now_ms: int) -> dict:
    graph = await load_graph(db, scope)
    params, _fit = await load_model(db, scope)
    rows = await learner_states(db, scope, learner_id)
    states = {c: state_from_row(r) for c, r in rows.items()}
    course_ids = kg.course_concepts(graph, context_id)
    ids = sorted(set(course_ids) | set(states))
    cparams = await concept_parameters(db, scope, ids) if ids else {}
    now = mem.from_epoch_ms(now_ms)
    mastered = {c for c, (s, _m) in states.items() if s.mastered}
    ability = lm.learner_ability(s for s, _m in states.values())
    concepts = []
    for cid in ids:
        bkt = bkt_from_row(cparams.get(cid), params.default_bkt)
        state, memory = states.get(cid) or (lm.new_state(bkt), mem.Memory())
        view = mastery_view(graph.get(cid), cid, state, memory, now)
        ready = kg.readiness(cid, graph, mastered)
        p = cparams.get(cid)
        prediction = lm.predict(state, ability, float(p["difficulty"]) if p else 0.0, bkt, params.weights)
        view.update({"ready": ready.ready, "missing_prerequisites": list(ready.missing),
                     "in_course": cid in course_ids, "predicted_p_correct": round(prediction.p_correct, 6),
                     "wheelspin_risk": (round(lm.wheelspin_risk(state, bkt), 6)
                                        if 0 < state.attempts < lm.WHEELSPIN_ATTEMPTS else None)})
        concepts.append(view)
    mastery = {c: s.p_known for c, (s, _m) in states.items()}
    return {"course_context": context_id,
            "course_score": progress.course_score(course_ids or list(states), mastery),
            "ability": {"theta": round(ability.theta, 6), "se": round(ability.se, 6), "attempts": ability.attempts},
            "concepts": concepts}


async def due_reviews(db: Database, scope: TenantScope, learner_id: str, now_ms: int) -> list[dict]:
    graph = await load_graph(db, scope)
    rows = await learner_states(db, scope, learner_id)
    now = mem.from_epoch_ms(now_ms)
    out = []
    for cid, r in rows.items():
        state, memory = state_from_row(r)
        if mem.is_due(memory, state.mastered, now):
            out.append(mastery_view(graph.get(cid), cid, state, memory, now))
    out.sort(key=lambda v: (v["next_review"] or "", v["recall_probability"]))
    return out


async def readiness_of(db: Database, scope: TenantScope, learner_id: str, context_id: str) -> list[dict]:
    graph = await load_graph(db, scope)
    rows = await learner_states(db, scope, learner_id)
    mastered = {c for c, r in rows.items() if state_from_row(r)[0].mastered}
    out = []
    for cid in kg.course_concepts(graph, context_id) or sorted(graph):
        ready = kg.readiness(cid, graph, mastered)
        out.append({"concept_id": cid, "name": graph[cid].name, "mastered": cid in mastered, "ready": ready.ready,
                    "missing_prerequisites": list(ready.missing)})
    return out


async def course_settings(db: Database, scope: TenantScope, context_id: str) -> dict:
    row = await db.first(scope.select("course_mastery_settings", {"course_context": context_id},
                                      name="course_settings.get"))
    if row is None:
        return {"course_context": context_id, "mastery_threshold": progress.DEFAULT_THRESHOLD, "concept_columns": False}
    return {"course_context": context_id, "mastery_threshold": float(row["mastery_threshold"]),
            "concept_columns": bool(row["concept_columns"])}


async def save_course_settings(db: Database, scope: TenantScope, context_id: str, threshold: float,
                               concept_columns: bool) -> dict:
    values = {"mastery_threshold": threshold, "concept_columns": 1 if concept_columns else 0, "updated_at": now_iso()}
    meta = await db.run(scope.update("course_mastery_settings", values, {"course_context": context_id},
                                     name="course_settings.update"))
    if meta["changes"] == 0:
        try:
            await db.run(scope.insert("course_mastery_settings", {"course_context": context_id, **values},
                                      name="course_settings.insert"))
        except ConstraintViolation as exc:
            if exc.kind != "unique":
                raise
            await db.run(scope.update("course_mastery_settings", values, {"course_context": context_id},
                                      name="course_settings.update"))
    return await course_settings(db, scope, context_id)


async def visible_learners(db: Database, scope: TenantScope, context_id: str) -> list[dict]:
    """Learners of the course whose privacy settings let the instructor see them."""
    from db import profiles

    out = []
    for p in await profiles.list_in_course(db, scope, context_id):
        consent = (p.get("privacy_settings") or {}).get("consent") or {}
        if consent.get("instructor_visibility", True) is False:
            continue
        out.append(p)
    return out


async def course_mastery(db: Database, scope: TenantScope, context_id: str, now_ms: int) -> dict:
    graph = await load_graph(db, scope)
    params, model_fit = await load_model(db, scope)
    learners = await visible_learners(db, scope, context_id)
    ids = [p["id"] for p in learners]
    rows_by_learner: dict[str, dict[str, dict]] = {i: {} for i in ids}
    for chunk in _chunks(ids):
        for r in await db.all(scope.select("knowledge_state", {"learner_id__in": chunk}, name="knowledge.of_learners")):
            rows_by_learner[r["learner_id"]][r["concept"]] = r
    course_ids = kg.course_concepts(graph, context_id)
    concept_ids = course_ids or sorted({c for rows in rows_by_learner.values() for c in rows})
    cparams = await concept_parameters(db, scope, concept_ids) if concept_ids else {}
    settings = await course_settings(db, scope, context_id)
    now = mem.from_epoch_ms(now_ms)
    learner_views = []
    sums: dict[str, list[float]] = {c: [] for c in concept_ids}
    for p in learners:
        rows = rows_by_learner[p["id"]]
        cells = {}
        mastery = {}
        for cid in concept_ids:
            if cid not in rows:
                cells[cid] = None
                sums[cid].append(0.0)
                continue
            state, memory = state_from_row(rows[cid])
            recall = mem.recall_probability(memory, now)
            mastery[cid] = state.p_known
            sums[cid].append(state.p_known)
            cells[cid] = {"mastery": round(state.p_known, 6), "status": mem.status(state.mastered, state.attempts, recall),
                          "recall_probability": round(recall, 6), "attempts": state.attempts,
                          "last_practised": mem.to_iso(memory.last_review)}
        learner_views.append({"learner_id": p["id"], "lti_user_id": p["lti_user_id"],
                              "course_score": progress.course_score(concept_ids, mastery), "concepts": cells})
    concepts = []
    for cid in concept_ids:
        c = graph.get(cid)
        cp = cparams.get(cid)
        concepts.append({
            "concept_id": cid, "name": c.name if c else cid, "prerequisites": list(c.prerequisites) if c else [],
            "class_mean_mastery": round(sum(sums[cid]) / len(sums[cid]), 6) if sums[cid] else None,
            "parameters": ({k: cp[k] for k in ("p_init", "p_transit", "p_slip", "p_guess", "p_forget", "difficulty")}
                           if cp else None),
            "fitted": bool(cp and cp["fitted"]),
            "fit": _loads(cp["fit"], {}) if cp else {},
        })
    return {"course_context": context_id, "mastery_threshold": settings["mastery_threshold"],
            "model_fit": model_fit, "concepts": concepts, "learners": learner_views}


# -- gradebook -----------------------------------------------------------------------------

async def course_progress(db: Database, scope: TenantScope, learner_id: str, context_id: str) -> dict:
    """The learner's course score over the course's concept set (all practised concepts
    when the graph names none for the course), and whether it crossed the threshold since
    the last recorded score; records the new score in student_progress."""
    graph = await load_graph(db, scope)
    rows = await learner_states(db, scope, learner_id)
    course_ids = kg.course_concepts(graph, context_id)
    ids = course_ids or sorted(rows)
    # mastery_level (the seed's column; the model keeps it equal to p_learned) is what counts.
    mastery = {c: float(r["mastery_level"]) for c, r in rows.items()}
    score = progress.course_score(ids, mastery)
    settings = await course_settings(db, scope, context_id)
    prev = await db.first(scope.select("student_progress", {"learner_id": learner_id, "course_context": context_id},
                                       name="progress.get"))
    cross = progress.crossing(float(prev["average_mastery"]) if prev else None, score, settings["mastery_threshold"])
    now = now_iso()
    if prev is None:
        try:
            await db.run(scope.insert("student_progress", {"id": new_id(), "learner_id": learner_id,
                                                           "course_context": context_id, "average_mastery": score,
                                                           "last_activity": now}, name="progress.insert"))
        except ConstraintViolation as exc:
            if exc.kind != "unique":
                raise
    else:
        await db.run(scope.update("student_progress", {"average_mastery": score, "last_activity": now},
                                  {"id": prev["id"]}, name="progress.update"))
    concepts = []
    for cid in ids:
        r = rows.get(cid)
        if r is None:
            continue
        state, memory = state_from_row(r)
        name = graph[cid].name if cid in graph else cid
        concepts.append({"concept_id": cid, "name": name, "score": round(100 * state.p_known, 2),
                         "comment": progress.evidence_comment(name, state.attempts, state.correct, state.recent,
                                                              mem.to_iso(memory.last_review), state.p_known)})
    return {"score": score, "threshold": settings["mastery_threshold"], "reached": cross.reached,
            "lost": cross.lost, "concept_count": len(ids), "concept_columns": settings["concept_columns"],
            "concepts": concepts}


async def record_passback(db: Database, scope: TenantScope, learner_id: str, context_id: str, score: float) -> None:
    await db.run(scope.update("student_progress", {"passed_back_score": score, "passed_back_at": now_iso()},
                              {"learner_id": learner_id, "course_context": context_id}, name="progress.passed_back"))


async def concept_line_item(db: Database, scope: TenantScope, context_id: str, concept_id: str) -> dict | None:
    return await db.first(scope.select("concept_line_items", {"course_context": context_id, "concept_id": concept_id},
                                       name="concept_line_items.get"))


async def claim_concept_line_item(db: Database, scope: TenantScope, context_id: str, concept_id: str) -> bool:
    """True if this caller may create the column (nobody claimed it before)."""
    try:
        await db.run(scope.insert("concept_line_items", {"course_context": context_id, "concept_id": concept_id},
                                  name="concept_line_items.claim"))
        return True
    except ConstraintViolation as exc:
        if exc.kind != "unique":
            raise
        return False


async def store_concept_line_item(db: Database, scope: TenantScope, context_id: str, concept_id: str, url: str) -> None:
    meta = await db.run(scope.update("concept_line_items", {"line_item_url": url},
                                     {"course_context": context_id, "concept_id": concept_id},
                                     name="concept_line_items.store"))
    if meta["changes"] == 0:
        await claim_concept_line_item(db, scope, context_id, concept_id)
        await db.run(scope.update("concept_line_items", {"line_item_url": url},
                                  {"course_context": context_id, "concept_id": concept_id},
                                  name="concept_line_items.store"))


async def store_result(db: Database, scope: TenantScope, result: dict) -> None:
    """The answer's final result (with the gradebook outcome), what a replay returns."""
    await db.run(scope.update("question_responses", {"result": _dumps(result)}, {"id": result["response_id"]},
                              name="responses.store_result"))
