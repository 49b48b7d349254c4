"""The insight pages over D1: computes and stores a course's snapshot (the nightly job and
a first view), and reads what a view needs: the newest snapshot, one page of learners,
and the same-day delta from the live tables. No decisions here (snapshot.py, progress.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bindings
import privacy
from db.database import Database
from db.profiles import new_id
from db.scope import MAX_IN_LIST, TenantScope
from insights import activities, roster, signals
from insights import snapshot as snap
from insights.snapshot import CellState
from learner import graph as kg
from learner import memory as mem
from learner import service as learner_service

STATE_COLUMNS = ["learner_id", "concept", "p_learned", "review_count", "correct_count", "incorrect_count",
                 "recent_accuracy", "ability_estimate", "ability_evidence", "ability_information",
                 "rapid_guess_count", "streak", "memory_stability", "memory_difficulty", "memory_state",
                 "memory_step", "last_reviewed", "next_review_date", "updated_at"]
# A first view of a course without a snapshot computes one at once when the course is
# this small (counted in learning sessions); larger ones wait for the nightly job.
ON_DEMAND_MAX_SESSIONS = 1500


def min_group(env) -> int:
    try:
        return max(1, int(bindings.var(env, "INSIGHTS_MIN_GROUP", str(snap.DEFAULT_MIN_GROUP))))
    except ValueError:
        return snap.DEFAULT_MIN_GROUP


def iso_ms(ms: int) -> str:
    return mem.to_iso(mem.from_epoch_ms(ms))


def day_ms(ms: int) -> str:
    return iso_ms(ms)[:10]


def _chunks(items: list, n: int = MAX_IN_LIST):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def cell_state(row: dict, now: datetime) -> CellState:
    state, memory = learner_service.state_from_row(row)
    recall = mem.recall_probability(memory, now)
    return CellState(state.p_known, state.attempts, mem.status(state.mastered, state.attempts, recall),
                     row.get("last_reviewed"))


async def states_of(db: Database, scope: TenantScope, learner_ids: list[str], now: datetime,
                    updated_after: str | None = None) -> dict[str, dict[str, CellState]]:
    out: dict[str, dict[str, CellState]] = {}
    for chunk in _chunks(learner_ids):
        where = {"learner_id__in": chunk}
        if updated_after:
            where["updated_at__gt"] = updated_after
        for r in await db.all(scope.select("knowledge_state", where, columns=STATE_COLUMNS,
                                           name="insights.states" if not updated_after else "insights.delta_states")):
            out.setdefault(r["learner_id"], {})[r["concept"]] = cell_state(r, now)
    return out


async def profiles_of(db: Database, scope: TenantScope, ids: list[str]) -> dict[str, dict]:
    out = {}
    for chunk in _chunks(sorted(set(ids))):
        for r in await db.all(scope.select("learner_profiles", {"id__in": chunk},
                                           columns=["id", "lti_user_id", "privacy_settings"],
                                           name="insights.profiles")):
            out[r["id"]] = {"id": r["id"], "lti_user_id": r["lti_user_id"],
                            "visible": privacy.visible_to_instructors(
                                {"privacy_settings": json.loads(r["privacy_settings"] or "{}")})}
    return out


# -- computing a snapshot --------------------------------------------------------------------

async def course_rows(env, db: Database, scope: TenantScope, context_id: str, now_ms: int) -> snap.CourseRows:
    now = mem.from_epoch_ms(now_ms)
    sessions = await db.all(scope.select("learning_sessions", {"course_context": context_id, "course_role": "learner"},
                                         columns=["id", "learner_id"], name="insights.course_sessions"))
    course_sessions = {r["id"] for r in sessions}
    learner_ids = sorted({r["learner_id"] for r in sessions})
    profiles = await profiles_of(db, scope, learner_ids)
    learners = [profiles[i] for i in learner_ids if i in profiles]
    cells = await states_of(db, scope, [l["id"] for l in learners], now)
    graph = await learner_service.load_graph(db, scope)
    ids = kg.course_concepts(graph, context_id) or sorted({c for row in cells.values() for c in row})
    concepts = [{"id": c, "name": graph[c].name if c in graph else c,
                 "prerequisites": list(graph[c].prerequisites) if c in graph else []} for c in ids]
    params = await learner_service.concept_parameters(db, scope, ids) if ids else {}
    params = {k: {**v, "fit": json.loads(v["fit"]) if isinstance(v.get("fit"), str) else v.get("fit")}
              for k, v in params.items()}
    settings = await learner_service.course_settings(db, scope, context_id)
    day = day_ms(now_ms)
    since = (now - timedelta(days=snap.HISTORY_DAYS)).strftime("%Y-%m-%d") + "T00:00:00.000Z"
    events, helps = await signals.course_history(db, scope, [l["id"] for l in learners], course_sessions, since)
    group = min_group(env)
    hidden = sum(1 for l in learners if not l["visible"])
    counted = {l["id"] for l in learners if l["visible"] or snap.include_hidden(hidden, group)}
    acts = await activities.course_activities(db, scope, context_id, settings["mastery_threshold"], counted)
    previous = await latest_summary(db, scope, context_id)
    return snap.CourseRows(
        context_id=context_id, day=day, computed_at=iso_ms(now_ms), concepts=concepts, params=params,
        learners=learners, cells=cells, events=events, interventions=helps, activities=acts,
        names=await roster.all_names(db, scope, context_id),
        previous_trend=(previous or {}).get("trend", []), threshold=settings["mastery_threshold"], min_group=group)


async def compute_and_store(env, scope: TenantScope, context_id: str, now_ms: int) -> dict:
    """Computes the course's snapshot and replaces its stored one in one D1 batch (a
    rerun the same day replaces that day's rows). Returns a short report."""
    db = Database(env)
    rows = await course_rows(env, db, scope, context_id, now_ms)
    summary, pages = snap.build(rows)
    statements = [scope.delete("analytics_snapshots", {"course_context": context_id}, name="insights.snapshot_clear")]

    def row(kind: str, page: int, data: dict, assignment: str | None = None):
        return scope.insert("analytics_snapshots", {
            "id": new_id(), "course_context": context_id, "assignment_id": assignment, "snapshot_day": rows.day,
            "kind": kind, "page": page, "snapshot_data": json.dumps(data, separators=(",", ":")),
            "created_at": rows.computed_at}, name="insights.snapshot_insert")

    statements.append(row("course", 0, summary))
    for a in summary["activities"]:
        statements.append(row("activity", 0, {"day": rows.day, **a}, a["id"]))
    for n, page in enumerate(pages, 1):
        statements.append(row("learners", n, {"rows": page}))
    await db.batch(statements, name="insights.snapshot_store")
    return {"course_context": context_id, "day": rows.day, "learners": len(rows.learners), "pages": len(pages),
            "concepts": len(summary["concepts"])}


# -- reading a snapshot ----------------------------------------------------------------------

async def latest_summary(db: Database, scope: TenantScope, context_id: str) -> dict | None:
    row = await db.first(scope.select("analytics_snapshots", {"course_context": context_id, "kind": "course"},
                                      columns=["snapshot_data", "snapshot_day"], order_by="snapshot_day DESC",
                                      limit=1, name="insights.latest_summary"))
    return json.loads(row["snapshot_data"]) if row else None


async def learner_page(db: Database, scope: TenantScope, context_id: str, day: str, page: int) -> list[dict]:
    row = await db.first(scope.select("analytics_snapshots", {"course_context": context_id, "kind": "learners",
                                                              "snapshot_day": day, "page": page},
                                      columns=["snapshot_data"], limit=1, name="insights.learner_page"))
    return json.loads(row["snapshot_data"])["rows"] if row else []


async def all_learner_rows(db: Database, scope: TenantScope, context_id: str, day: str) -> list[dict]:
    rows = await db.all(scope.select("analytics_snapshots", {"course_context": context_id, "kind": "learners",
                                                             "snapshot_day": day},
                                     columns=["page", "snapshot_data"], order_by="page", name="insights.all_pages"))
    return [r for row in rows for r in json.loads(row["snapshot_data"])["rows"]]


async def sessions_in_course(db: Database, scope: TenantScope, context_id: str) -> int:
    row = await db.first(scope.count("learning_sessions", {"course_context": context_id, "course_role": "learner"},
                                     name="insights.course_session_count"))
    return int(row["n"])


@dataclass
class Overview:
    summary: dict | None
    rows: list[dict]            # the page's learner rows, live consent and cells applied
    names: dict[str, str]       # lti_user_id -> roster name
    delta: dict                 # {"events", "interventions", "complete", "since"}
    roster: dict                # {"fetched_at", "stale", "error"}
    pending: bool = False       # no snapshot yet and too large to compute now


def _merge_live(rows: list[dict], live: dict[str, dict], states: dict[str, dict[str, CellState]],
                concept_ids: list[str]) -> list[dict]:
    """The page's rows as they are now: learners erased or hidden since the snapshot
    leave, cells changed since the snapshot take their live value."""
    out = []
    for r in rows:
        p = live.get(r["id"])
        if p is None or not p["visible"]:
            continue
        changed = states.get(r["id"], {})
        if changed:
            cells = dict(r["c"])
            for cid, s in changed.items():
                if cid in cells and s.attempts:
                    cells[cid] = [round(s.mastery, 4), snap.STATUS_CODES.get(s.status, "l"), s.attempts]
            mastery = sum(v[0] or 0.0 for v in cells.values())
            r = {**r, "c": cells, "s": round(100 * mastery / len(concept_ids), 2) if concept_ids else 0.0,
                 "live": sorted(changed)}
        out.append(r)
    return out


async def overview(env, scope: TenantScope, context_id: str, now_ms: int, page: int, attention_only: bool) -> Overview:
    db = Database(env)
    summary = await latest_summary(db, scope, context_id)
    if summary is None:
        if await sessions_in_course(db, scope, context_id) > ON_DEMAND_MAX_SESSIONS:
            return Overview(None, [], {}, {"events": [], "interventions": [], "complete": True}, {}, pending=True)
        await compute_and_store(env, scope, context_id, now_ms)
        summary = await latest_summary(db, scope, context_id)
    pages = summary["attention_pages"] if attention_only else summary["pages"]
    page = max(1, min(page, max(1, pages)))
    rows = await learner_page(db, scope, context_id, summary["day"], page) if pages else []
    if attention_only:
        rows = [r for r in rows if r["a"]]
    ids = [r["id"] for r in rows]
    live = await profiles_of(db, scope, ids)
    concept_ids = [c["id"] for c in summary["concepts"]]
    states = await states_of(db, scope, ids, mem.from_epoch_ms(now_ms), updated_after=summary["computed_at"]) \
        if ids else {}
    rows = _merge_live(rows, live, states, concept_ids)
    delta = await signals.since_snapshot(db, scope, context_id, summary["computed_at"])
    delta["since"] = summary["computed_at"]
    who = await profiles_of(db, scope, [e["learner_id"] for e in delta["events"] + delta["interventions"]
                                        + summary["flags"]])
    counted_hidden = summary["learners"]["hidden_counted"]

    def counted(learner_id: str) -> bool:
        p = who.get(learner_id)
        return bool(p and (p["visible"] or counted_hidden))

    def shown(learner_id: str) -> bool:
        return bool(who.get(learner_id) and who[learner_id]["visible"])

    delta["events"] = [{**e, "u": who[e["learner_id"]]["lti_user_id"], "visible": shown(e["learner_id"])}
                       for e in delta["events"] if counted(e["learner_id"])]
    delta["interventions"] = [i for i in delta["interventions"] if counted(i["learner_id"])]
    # Flags name people: only those who let instructors see them now.
    summary["flags"] = [{**f, "u": who[f["learner_id"]]["lti_user_id"]} for f in summary["flags"]
                        if shown(f["learner_id"])]
    names, roster_state = await _names(env, db, scope, context_id,
                                       [r["u"] for r in rows] + [e["u"] for e in delta["events"] if e["visible"]]
                                       + [f["u"] for f in summary["flags"]], now_ms)
    return Overview(summary, rows, names, delta, roster_state, pending=False)


async def _names(env, db: Database, scope: TenantScope, context_id: str, user_ids: list[str],
                 now_ms: int) -> tuple[dict[str, str], dict]:
    """Names for these users from the roster copy; refreshes the copy first when there is
    none or it is older than the TTL. A failed refresh keeps what there is and says why."""
    fetched = await roster.fetched_at(db, scope, context_id)
    error = None
    if roster.is_stale(fetched, now_ms / 1000, roster.ttl_hours(env)):
        try:
            await roster.refresh(env, scope, context_id, retry_base_s=0.2)
            fetched = await roster.fetched_at(db, scope, context_id)
        except roster.RosterUnavailable as exc:
            error = str(exc)
    names = await roster.names(db, scope, context_id, [u for u in user_ids if u]) if fetched else {}
    return names, {"fetched_at": fetched, "error": error,
                   "stale": roster.is_stale(fetched, now_ms / 1000, roster.ttl_hours(env))}


# -- details -----------------------------------------------------------------------------------

async def learner_in_course(db: Database, scope: TenantScope, context_id: str, learner_id: str) -> dict | None:
    """The learner's profile if they are a learner of the course and let instructors see
    them; None otherwise (another tenant's or course's id answers the same)."""
    if not learner_id or len(learner_id) > 64:
        return None
    p = (await profiles_of(db, scope, [learner_id])).get(learner_id)
    if p is None or not p["visible"]:
        return None
    row = await db.first(scope.select("learning_sessions", {"learner_id": learner_id, "course_context": context_id,
                                                            "course_role": "learner"},
                                      columns=["id"], limit=1, name="insights.learner_in_course"))
    return p if row else None


async def study_rows(db: Database, scope: TenantScope, learner_id: str, now_ms: int,
                     days: int = 90) -> tuple[list[tuple[str, float]], list[str]]:
    since = iso_ms(now_ms - days * 86_400_000)
    answers = await db.all(scope.select("question_responses", {"learner_id": learner_id, "responded_at__ge": since},
                                        columns=["responded_at", "response_time_seconds"], order_by="responded_at",
                                        limit=5000, name="insights.study_answers"))
    sessions = await db.all(scope.select("learning_sessions", {"learner_id": learner_id, "session_start__ge": since},
                                         columns=["session_start"], order_by="session_start", limit=5000,
                                         name="insights.study_sessions"))
    return ([(r["responded_at"], float(r["response_time_seconds"] or 0)) for r in answers],
            [r["session_start"] for r in sessions])


def utc_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")
