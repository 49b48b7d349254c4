"""The insight pages of a session: the instructor's class overview, a learner's and a
concept's detail, CSV downloads of the overview's tables, and the learner's "My
progress". HTTP in and out only; reading is in insights/service.py, HTML in
pages/insights_views.py."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

import clock
import privacy
from auth.session import Session, require_page_session
from db import profiles
from db.database import Database, DataUnavailable
from insights import csv_export, downloads, progress, roster, service, signals
from learner import graph as kg
from learner import memory as mem
from learner import service as learner_service
from pages import insights_views as views
from pages import shell
from pages.insights_assets import PROGRESS_SCRIPT, STYLESHEET
from problems import Problem
from web import assets

router = APIRouter(include_in_schema=False)
HISTORY_MS = 28 * 86_400_000
OVERVIEW_NAV = "/app/courses/{context}/overview"
PROGRESS_NAV = "/app/progress"


def _styles() -> tuple[str, ...]:
    return (assets.path(STYLESHEET),)


def _link(session: Session):
    return lambda path, **params: shell.page_url(session, path, **params)


def require_instructor(session: Session, context_id: str) -> None:
    """Only the course's instructors; another course (of this or any institution) is
    indistinguishable from a missing one."""
    if not session.is_instructor:
        raise Problem(403, "Forbidden", "Only instructors of this course can see the class overview. Your own "
                      "progress is under “My progress”.", type_="/problems/forbidden")
    if context_id != session.context_id:
        raise Problem(404, "Not Found", "No such course in your launch context.", type_="/problems/not-found")


def _unavailable() -> Problem:
    return Problem(503, "Service Unavailable", "The class data cannot be read right now (database outage); try "
                   "again in a few minutes.", type_="/problems/d1-unavailable", headers={"Retry-After": "30"})


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(value or default)))
    except ValueError:
        return default


@router.get("/app/courses/{context_id}/overview")
async def overview_page(context_id: str, request: Request, session: Session = Depends(require_page_session)):
    require_instructor(session, context_id)
    env = request.scope["env"]
    page = _int(request.query_params.get("page"), 1, 1, 100_000)
    attention = request.query_params.get("show") == "attention"
    try:
        ov = await service.overview(env, session.scope, context_id, clock.now_ms(env), page, attention)
    except DataUnavailable:
        raise _unavailable() from None
    if ov.summary:
        pages = ov.summary["attention_pages"] if attention else ov.summary["pages"]
        page = max(1, min(page, max(1, pages)))
    body = views.overview(_link(session), context_id, session.claims.ct or "your course", ov, page, attention)
    return shell.render(request, session, "Class overview", body, OVERVIEW_NAV, styles=_styles())


@router.get("/app/courses/{context_id}/overview/{table}.csv")
async def overview_csv(context_id: str, table: str, request: Request, session: Session = Depends(require_page_session)):
    require_instructor(session, context_id)
    return await csv_response(request, session, context_id, table)


async def csv_response(request: Request, session: Session, context_id: str, table: str) -> Response:
    env = request.scope["env"]
    try:
        header, rows = await downloads.table(env, session.scope, context_id, table, clock.now_ms(env))
    except KeyError:
        raise Problem(404, "Not Found", f"No table {table!r}; the overview offers {', '.join(downloads.TABLES)}.",
                      type_="/problems/not-found") from None
    except DataUnavailable:
        raise _unavailable() from None
    name = csv_export.filename("atomic-guide", context_id, table)
    return Response(csv_export.to_csv(header, rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
                             "X-Content-Type-Options": "nosniff"})


@router.get("/app/courses/{context_id}/learners/{learner_id}")
async def learner_page(context_id: str, learner_id: str, request: Request,
                       session: Session = Depends(require_page_session)):
    require_instructor(session, context_id)
    env = request.scope["env"]
    db = Database(env)
    now_ms = clock.now_ms(env)
    try:
        who = await service.learner_in_course(db, session.scope, context_id, learner_id)
        if who is None:
            raise Problem(404, "Not Found", "No such learner in this course (or they chose not to be shown to "
                          "instructors individually).", type_="/problems/not-found")
        mastery = await learner_service.my_mastery(db, session.scope, learner_id, context_id, now_ms)
        graph = await learner_service.load_graph(db, session.scope)
        sessions = await db.all(session.scope.select("learning_sessions", {"learner_id": learner_id,
                                                                           "course_context": context_id},
                                                     columns=["id"], name="insights.learner_course_sessions"))
        in_course = {r["id"] for r in sessions}
        events, helps = await signals.learner_history(db, session.scope, learner_id,
                                                      service.iso_ms(now_ms - HISTORY_MS))
        answers, starts = await service.study_rows(db, session.scope, learner_id, now_ms)
        names = await roster.names(db, session.scope, context_id, [who["lti_user_id"]])
    except DataUnavailable:
        raise _unavailable() from None
    events = [e for e in events if e["session_id"] in in_course]
    helps = [h for h in helps if h["session_id"] in in_course]
    study = progress.study_summary(answers, starts, service.utc_day(now_ms))
    concept_names = {c["concept_id"]: c["name"] for c in mastery["concepts"]}
    mastery["concepts"] = _in_prerequisite_order(mastery["concepts"], graph)
    name = names.get(who["lti_user_id"], who["lti_user_id"])
    body = views.learner_detail(_link(session), context_id, name, who["lti_user_id"], mastery, events, helps, study,
                                concept_names)
    return shell.render(request, session, name, body, OVERVIEW_NAV, styles=_styles())


@router.get("/app/courses/{context_id}/concepts/{concept_id}")
async def concept_page(context_id: str, concept_id: str, request: Request,
                       session: Session = Depends(require_page_session)):
    require_instructor(session, context_id)
    env = request.scope["env"]
    db = Database(env)
    now_ms = clock.now_ms(env)
    try:
        summary = await service.latest_summary(db, session.scope, context_id)
        if summary is None:
            await service.compute_and_store(env, session.scope, context_id, now_ms)
            summary = await service.latest_summary(db, session.scope, context_id)
        concept = next((c for c in summary["concepts"] if c["id"] == concept_id), None)
        if concept is None:
            raise Problem(404, "Not Found", "No such concept in this course.", type_="/problems/not-found")
        live = await service.profiles_of(db, session.scope, concept["lowest"])
        shown = [i for i in concept["lowest"] if i in live and live[i]["visible"]]
        states = await service.states_of(db, session.scope, shown, mem.from_epoch_ms(now_ms))
        names = await roster.names(db, session.scope, context_id, [live[i]["lti_user_id"] for i in shown])
    except DataUnavailable:
        raise _unavailable() from None
    lowest = []
    for i in shown:
        s = states.get(i, {}).get(concept_id)
        if s is not None and s.status in ("learning", "fading"):
            u = live[i]["lti_user_id"]
            lowest.append((i, names.get(u, u), s.mastery))
    lowest.sort(key=lambda t: t[2])
    dependents = [c for c in summary["concepts"] if concept_id in c["prerequisites"]]
    struggle = next((c for c in summary["struggle"]["concepts"] if c["concept_id"] == concept_id), None)
    body = views.concept_detail(_link(session), context_id, concept, summary, lowest, dependents, struggle)
    return shell.render(request, session, concept["name"], body, OVERVIEW_NAV, styles=_styles())


@router.get("/app/progress")
async def progress_page(request: Request, session: Session = Depends(require_page_session)):
    env = request.scope["env"]
    db = Database(env)
    now_ms = clock.now_ms(env)
    try:
        profile = await profiles.get_by_user(db, session.scope, session.lti_user_id)
        if profile is None:
            body = ('<h1 id="progress-heading">My progress</h1><p id="no-profile">Nothing is recorded about you in '
                    "this course yet. Open Atomic Guide from your course to start.</p>")
            return shell.render(request, session, "My progress", body, PROGRESS_NAV, styles=_styles())
        mastery = await learner_service.my_mastery(db, session.scope, profile["id"], session.context_id, now_ms)
        due = await learner_service.due_reviews(db, session.scope, profile["id"], now_ms)
        graph = await learner_service.load_graph(db, session.scope)
        _events, helps = await signals.learner_history(db, session.scope, profile["id"],
                                                       service.iso_ms(now_ms - HISTORY_MS))
        answers, starts = await service.study_rows(db, session.scope, profile["id"], now_ms)
    except DataUnavailable:
        raise _unavailable() from None
    course_ids = kg.course_concepts(graph, session.context_id) or [c["concept_id"] for c in mastery["concepts"]]
    concepts = [{"id": c, "prerequisites": list(graph[c].prerequisites) if c in graph else []} for c in course_ids]
    mastered = {c["concept_id"] for c in mastery["concepts"] if c["mastered"]}
    names = {c: graph[c].name for c in graph}
    mastery["concepts"] = _in_prerequisite_order(mastery["concepts"], graph)
    study = progress.study_summary(answers, starts, service.utc_day(now_ms))
    settings = profile.get("privacy_settings") or {}
    body = views.my_progress(mastery, due, study, helps, progress.unlocks(concepts, mastered),
                             privacy.consent(settings), settings.get("data_sharing") or "institution", names)
    etag = f'"{profile["id"]}.v{profile["version"]}"'
    return shell.render(request, session, "My progress", body, PROGRESS_NAV, styles=_styles(),
                        scripts=(assets.path(PROGRESS_SCRIPT),), config={"progress": {"etag": etag}})


def _in_prerequisite_order(concepts: list[dict], graph: dict) -> list[dict]:
    from insights.snapshot import prerequisite_order

    order = prerequisite_order([{"id": c["concept_id"], "name": c["name"],
                                 "prerequisites": list(graph[c["concept_id"]].prerequisites)
                                 if c["concept_id"] in graph else []} for c in concepts])
    rank = {c["id"]: k for k, c in enumerate(order)}
    return sorted(concepts, key=lambda c: rank[c["concept_id"]])

