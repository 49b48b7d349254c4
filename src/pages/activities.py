"""The instructor's pages: the course's activities (`/app/activities`), one activity
(`/app/activities/{id}`: who reached mastery, what went to the gradebook and what is
still being retried, settings, drafting items from course text and approving them) and
the question bank (`/app/question-bank`: import with a template, review, edit, approve,
retire). Plain forms posting back (no script needed); questions.js only reads a chosen
file into the import box."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api import practice as api
from auth.session import Session, require_page_session
from db.database import Database, DataUnavailable
from learner import service as learner
from pages import shell
from pages.practice import TYPE_LABELS, pct_class, read_form, read_pairs
from practice import gradebook, items
from practice import service as practice
from problems import Problem
from web import assets
from web.page import esc

router = APIRouter(include_in_schema=False)

# Progressive enhancement of the import form: a chosen file is read into the text box
# (the form posts text, so it works without script by pasting).
QUESTIONS_JS = """
(function(){
  "use strict";
  var input = document.getElementById("import-file");
  var box = document.getElementById("import-text");
  var kind = document.getElementById("import-kind");
  var note = document.getElementById("import-file-note");
  if (!input || !box || !window.FileReader) return;
  input.hidden = false;
  var label = document.querySelector("label[for=import-file]");
  if (label) label.hidden = false;
  input.addEventListener("change", function(){
    var f = input.files && input.files[0];
    if (!f) return;
    if (f.size > 65536) { note.textContent = "This file is larger than 64 KiB; split it into parts."; return; }
    var r = new FileReader();
    r.onload = function(){
      box.value = r.result;
      if (kind) kind.value = /\\.csv$/i.test(f.name) ? "csv" : "json";
      note.textContent = f.name + " is ready to import (" + f.size + " bytes).";
    };
    r.readAsText(f);
  });
})();
"""
assets.add("questions.js", QUESTIONS_JS, assets.JS_TYPE)
assets.add("question-bank-template.csv", items.TEMPLATE_CSV, "text/csv; charset=utf-8")
assets.add("question-bank-template.json", items.TEMPLATE_JSON, "application/json; charset=utf-8")
STATUS_TEXT = {"idle": "Nothing to send yet", "pending": "Waiting to be sent", "retrying": "Failed; retrying",
               "sent": "Sent", "failed": "Failed; not retried", "not_graded": "Not graded"}
NOTICES = {"settings": "The settings were saved.", "retry": "Failed grades were queued to be sent again.",
           "draft": "The draft is ready for review below.", "draft-cached": "This text was drafted before; "
           "here is that draft.", "approved": "The checked items are now in the bank, approved for learners.",
           "saved": "The draft's edits were saved.", "discarded": "The draft was discarded.",
           "imported": "The file was imported.", "item": "The item was saved."}


def _notice(request: Request) -> str:
    text = NOTICES.get(request.query_params.get("notice", ""))
    return f'<p class="card feedback ok" id="notice" role="status">{esc(text)}</p>' if text else ""


def _errors(errors: list[str]) -> str:
    if not errors:
        return ""
    return ('<div class="card bad" id="form-errors" role="alert" tabindex="-1"><h2>Not saved</h2><ul>'
            + "".join(f"<li>{esc(e)}</li>" for e in errors) + "</ul></div>")


def _render(request: Request, session: Session, title: str, body: str, current: str, status: int = 200,
            scripts: tuple[str, ...] = ()) -> HTMLResponse:
    return shell.render(request, session, title, body, current, status=status, scripts=scripts,
                        styles=(assets.path("practice.css"),))


def _instructors_only(request: Request, session: Session, current: str) -> HTMLResponse | None:
    if session.is_instructor:
        return None
    return _render(request, session, "Instructors only", '<h1 id="forbidden-title">Instructors only</h1><p>This page '
                   "is for the course's instructors.</p>", current, status=403)


def _problem_errors(exc: practice.PracticeError) -> list[str]:
    out = [exc.detail]
    for row in exc.extra.get("rows", []) or []:
        where = ", ".join(x for x in (f"line {row['line']}" if row.get("line") else "",
                                       f"item {row['item']}" if row.get("item") else "") if x)
        out.append(f"{where or 'file'}{': ' + row['field'] if row.get('field') else ''}: {row['problem']}")
    if exc.extra.get("ids"):
        out.append("Concepts: " + ", ".join(exc.extra["ids"]))
    for p in exc.extra.get("problems", []) or []:
        out.append(p if isinstance(p, str) else p.get("detail", str(p)))
    return out


def _redirect(session: Session, path: str, notice: str) -> RedirectResponse:
    return RedirectResponse(shell.page_url(session, path, notice=notice), status_code=303,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _outage(request: Request, session: Session, current: str) -> HTMLResponse:
    return _render(request, session, "Unavailable", '<h1 id="outage-title">Not available right now</h1><p>The '
                   "database cannot be reached (outage); try again in a few minutes.</p>", current, status=503)


# -- the course's activities ------------------------------------------------------------------

@router.get("/app/activities", response_class=HTMLResponse)
async def activities_page(request: Request, session: Session = Depends(require_page_session)):
    refused = _instructors_only(request, session, "/app/activities")
    if refused:
        return refused
    db = Database(request.scope["env"])
    try:
        rows = await practice.course_activities(db, session.scope, session.context_id)
        reports = [await practice.activity_report(db, session.scope, r) for r in rows]
    except DataUnavailable:
        return _outage(request, session, "/app/activities")
    if reports:
        body_rows = "".join(
            f'<tr><td><a href="{esc(shell.page_url(session, "/app/activities/" + r["activity"]["id"]))}">'
            f'{esc(r["activity"]["title"])}</a></td><td>{TYPE_LABELS[r["activity"]["type"]]}</td>'
            f'<td>{len(r["activity"]["concepts"])}</td><td>{r["learners_mastered"]} of {r["learners_started"]}</td>'
            f'<td>{esc(r["activity"]["status"])}</td></tr>' for r in reports)
        table = ('<div class="table-wrap"><table id="activities-table"><caption>Practice activities in this course'
                 '</caption><thead><tr><th scope="col">Activity</th><th scope="col">Type</th><th scope="col">'
                 'Concepts</th><th scope="col">Learners who reached mastery</th><th scope="col">Status</th></tr>'
                 f"</thead><tbody>{body_rows}</tbody></table></div>")
    else:
        table = ('<p id="activities-none">No practice activities yet. In Canvas, add Atomic Guide to a module '
                 "(Add item → External tool → Atomic Guide) and choose <em>Practice activity</em>.</p>")
    body = f'<h1 id="activities-title">Practice activities</h1>{table}'
    return _render(request, session, "Activities", body, "/app/activities")


def _grades_table(report: dict) -> str:
    if not report["learners"]:
        return '<p id="grades-none">No learner has practised yet.</p>'
    rows = ""
    for r in report["learners"]:
        g = r["grade"]
        detail = STATUS_TEXT.get(g["status"], g["status"])
        if g["status"] in ("retrying", "failed") and g["error"]:
            detail += f" (attempt {g['attempts']}: {g['error']})"
        if g["status"] == "retrying" and g["next_attempt_at"]:
            detail += f"; next try {g['next_attempt_at'][:19].replace('T', ' ')} UTC"
        sent = f"{g['sent_score']:g}%" if g["sent_score"] is not None else "–"
        when = (g["sent_at"] or "")[:19].replace("T", " ") or "–"
        rows += (f'<tr><th scope="row">{esc(r["lti_user_id"])}</th><td>{r["score"]:g}%</td>'
                 f'<td>{"Yes" if r["mastered"] else "Not yet"}</td><td>{r["attempts"]}</td><td>{sent}</td>'
                 f'<td>{esc(when)}</td><td>{esc(detail)}</td></tr>')
    hidden = (f'<p class="muted">{report["hidden_learners"]} more learner(s) chose not to be shown to instructors '
              "individually; their grades are sent all the same.</p>") if report["hidden_learners"] else ""
    return ('<div class="table-wrap"><table id="grades-table"><caption>Grades per learner</caption><thead><tr>'
            '<th scope="col">Learner</th><th scope="col">Grade now</th><th scope="col">Mastered</th>'
            '<th scope="col">Answers</th><th scope="col">Last sent</th><th scope="col">Sent at (UTC)</th>'
            f'<th scope="col">Gradebook</th></tr></thead><tbody>{rows}</tbody></table></div>{hidden}')


def _settings_form(action: str, a: dict) -> str:
    schema = "".join(f'<option value="{k}"{" selected" if a["grading_schema"] == k else ""}>{label}</option>'
                     for k, label in (("mastery", "Mastery"), ("percentage", "Percentage right"),
                                      ("engagement", "Engagement")))
    status = "".join(f'<option value="{k}"{" selected" if a["status"] == k else ""}>{label}</option>'
                     for k, label in (("open", "Open"), ("closed", "Closed")))
    closes = (a["closes_at"] or "")[:16]
    return (f'<form method="post" action="{esc(action)}" id="settings-form"><input type="hidden" name="action" '
            'value="settings"><div class="field-row">'
            f'<div><label for="set-title">Title</label><input id="set-title" name="title" maxlength="200" '
            f'value="{esc(a["title"])}"></div>'
            f'<div><label for="set-threshold">Mastery threshold (%)</label><input id="set-threshold" type="number" '
            f'min="0" max="100" step="1" name="mastery_threshold" value="{a["mastery_threshold"]:g}"></div>'
            f'<div><label for="set-schema">Grading</label><select id="set-schema" name="grading_schema">{schema}'
            "</select></div>"
            f'<div><label for="set-target">Engagement target</label><input id="set-target" type="number" min="1" '
            f'max="1000" name="engagement_target" value="{a["engagement_target"]}"></div>'
            f'<div><label for="set-typos">Typos forgiven (0-3)</label><input id="set-typos" type="number" min="0" '
            f'max="3" name="typo_tolerance" value="{a["typo_tolerance"]}"></div>'
            f'<div><label for="set-status">Status</label><select id="set-status" name="status">{status}</select></div>'
            f'<div><label for="set-closes">Closes at (UTC, optional)</label><input id="set-closes" '
            f'type="datetime-local" name="closes_at" value="{esc(closes)}"></div></div>'
            '<p class="muted">Grading by mastery: the share of the concepts mastered; percentage right: the share '
            "of answers right; engagement: answers given against the target.</p>"
            '<div class="actions"><button type="submit" id="settings-save">Save settings</button></div></form>')


def _lines(value) -> str:
    return "\n".join(value or [])


def _draft_item_fields(i: int, item: dict, concepts: list[tuple[str, str]]) -> str:
    options = "".join(f'<option value="{esc(cid)}"{" selected" if item.get("concept") == cid else ""}>{esc(name)}'
                      "</option>" for cid, name in concepts)
    if item.get("format") == "flashcard":
        main = (f'<label for="d-front-{i}">Front</label><input id="d-front-{i}" name="front_{i}" '
                f'value="{esc(item.get("front"))}">'
                f'<label for="d-back-{i}">Back</label><textarea id="d-back-{i}" name="back_{i}" rows="2">'
                f'{esc(item.get("back"))}</textarea>')
    else:
        main = (f'<label for="d-prompt-{i}">Prompt (___ marks the gap)</label><textarea id="d-prompt-{i}" '
                f'name="prompt_{i}" rows="2">{esc(item.get("prompt"))}</textarea>'
                f'<label for="d-answers-{i}">Accepted answers (one per line)</label><textarea id="d-answers-{i}" '
                f'name="answers_{i}" rows="2">{esc(_lines(item.get("answers")))}</textarea>')
    wrong = "".join(f"<li>“{esc(m['answer'])}”: {esc(m['feedback'])}</li>" for m in item.get("misconceptions", []))
    return (f'<fieldset class="draft-item"><legend>Draft item {i + 1}</legend>'
            f'<label class="option" for="d-include-{i}"><input type="checkbox" id="d-include-{i}" name="include" '
            f'value="{i}" checked><span>Include when approving</span></label>{main}'
            f'<label for="d-hints-{i}">Hints, gentlest first (one per line)</label><textarea id="d-hints-{i}" '
            f'name="hints_{i}" rows="2">{esc(_lines(item.get("hints")))}</textarea>'
            f'<div class="field-row"><div><label for="d-concept-{i}">Concept</label><select id="d-concept-{i}" '
            f'name="concept_{i}">{options}</select></div><div><label for="d-difficulty-{i}">Difficulty (1-10)'
            f'</label><input id="d-difficulty-{i}" type="number" min="1" max="10" name="difficulty_{i}" '
            f'value="{esc(item.get("difficulty", 5))}"></div></div>'
            + (f'<p class="muted">Misconceptions it recognises:</p><ul>{wrong}</ul>' if wrong else "")
            + "</fieldset>")


def _drafts_html(action: str, drafts: list[dict], concepts: list[tuple[str, str]]) -> str:
    out = ""
    for d in drafts:
        if d["status"] != "draft":
            continue
        fields = "".join(_draft_item_fields(i, item, concepts) for i, item in enumerate(d["items"]))
        if not d["items"]:
            fields = "<p>The text held nothing to draft from (no definitions or recurring terms were found).</p>"
        out += (f'<form method="post" action="{esc(action)}" class="card" id="draft-{esc(d["id"])}">'
                f'<input type="hidden" name="draft" value="{esc(d["id"])}"><input type="hidden" name="count" '
                f'value="{len(d["items"])}"><h3>Draft of {len(d["items"])} item(s) <span class="muted">('
                f'{esc(d["provider"])}, {esc(d["model"])}) — not shown to learners until approved</span></h3>{fields}'
                '<div class="actions"><button type="submit" name="action" value="draft-approve" class="approve-draft">'
                'Approve checked items</button><button type="submit" name="action" value="draft-save" '
                'class="secondary">Save edits</button><button type="submit" name="action" value="draft-discard" '
                'class="secondary">Discard draft</button></div></form>')
    done = sum(1 for d in drafts if d["status"] != "draft")
    if done:
        out += f'<p class="muted">{done} earlier draft(s) approved or discarded.</p>'
    return out


async def _activity_body(request: Request, session: Session, activity: dict, errors: list[str]) -> str:
    db = Database(request.scope["env"])
    report = await practice.activity_report(db, session.scope, activity)
    a = report["activity"]
    graph = await learner.load_graph(db, session.scope)
    concepts = [(c, graph[c].name if c in graph else c) for c in a["concepts"]]
    action = shell.page_url(session, f"/app/activities/{a['id']}")
    started, done = report["learners_started"], report["learners_mastered"]
    share = round(100 * done / started) if started else 0
    pending = report["grade_sync"].get("pending", 0) + report["grade_sync"].get("retrying", 0)
    failed = report["grade_sync"].get("failed", 0)
    retry = (f'<form method="post" action="{esc(action)}" class="inline"><input type="hidden" name="action" '
             'value="retry"><button type="submit" class="secondary" id="retry-grades">Send failed grades again now'
             "</button></form>") if failed or pending else ""
    column = ("Grades go to the gradebook column of this activity." if a["graded"] else
              "This activity is not graded.")
    drafting = ""
    if a["type"] != "chat":
        drafts = await practice.drafts_of(db, session.scope, a["id"])
        drafting = (
            '<section class="card" aria-labelledby="drafting-title"><h2 id="drafting-title">Draft items from course '
            'text</h2><p>Paste course text (definitions such as “Term — meaning” work best). The tool drafts '
            f'{"flashcards" if a["type"] == "flashcards" else "fill-in-the-blank items"}; you review, edit and '
            "approve them. Nothing drafted reaches learners before you approve it.</p>"
            f'<form method="post" action="{esc(action)}" id="draft-form"><input type="hidden" name="action" '
            'value="draft"><label for="draft-text">Course text</label><textarea id="draft-text" name="text" rows="6" '
            'maxlength="20000" required></textarea><div class="actions"><button type="submit" id="draft-button">'
            f'Draft items</button></div></form>{_drafts_html(action, drafts, concepts)}</section>')
    bank = shell.page_url(session, "/app/question-bank")
    concept_list = ", ".join(esc(name) for _c, name in concepts)
    return (f'<h1 id="activity-title">{esc(a["title"])}</h1>'
            f'<p class="muted">{TYPE_LABELS[a["type"]]} · {len(concepts)} concept(s): {concept_list} · '
            f'{"open" if a["status"] == "open" else "closed"}</p>{_notice(request)}{_errors(errors)}'
            '<section class="card" aria-labelledby="mastery-title"><h2 id="mastery-title">Mastery</h2>'
            f'<p id="mastery-count"><strong>{done}</strong> of {started} learner(s) who started reached mastery '
            f'({a["mastery_threshold"]:g}% of the concepts mastered).</p>'
            f'<div class="bar done" role="progressbar" aria-label="Learners who reached mastery" aria-valuemin="0" '
            f'aria-valuemax="100" aria-valuenow="{share}"><span class="{pct_class(share)}"></span></div></section>'
            '<section class="card" aria-labelledby="grades-title"><h2 id="grades-title">Gradebook</h2>'
            f'<p id="grade-summary">{column} {pending} waiting or being retried, {failed} failed.</p>{retry}'
            f"{_grades_table(report)}</section>"
            '<section class="card" aria-labelledby="settings-title"><h2 id="settings-title">Settings</h2>'
            f'{_settings_form(action, a)}</section>{drafting}'
            f'<p>Items come from the <a href="{esc(bank)}" id="bank-link">question bank</a> (approved items of the '
            "activity's concepts).</p>")


async def _activity(request: Request, session: Session, activity_id: str) -> dict | None:
    try:
        return await practice.activity_in_course(Database(request.scope["env"]), session.scope, activity_id,
                                                 session.context_id)
    except practice.PracticeError:
        return None


@router.get("/app/activities/{activity_id}", response_class=HTMLResponse)
async def activity_page(activity_id: str, request: Request, session: Session = Depends(require_page_session)):
    current = "/app/activities"
    if not session.is_instructor:
        return RedirectResponse(shell.page_url(session, "/app/practice"), status_code=303)
    try:
        activity = await _activity(request, session, activity_id)
        if activity is None:
            raise Problem(404, "Not Found", "No such activity in this course.")
        if activity["graded"] and await _has_unsent(request, session, activity):
            # A grade whose request to send was lost is asked for again when the instructor looks.
            await gradebook.request_sync(request.scope["env"], session.scope.tenant_id, session.scope.d1_binding,
                                         activity_id)
        body = await _activity_body(request, session, activity, [])
    except DataUnavailable:
        return _outage(request, session, current)
    return _render(request, session, activity["title"], body, current)


async def _has_unsent(request: Request, session: Session, activity: dict) -> bool:
    rows = await Database(request.scope["env"]).all(session.scope.select(
        "activity_progress", {"activity_id": activity["id"], "sync_status__in": ["pending", "retrying"]},
        columns=["id"], limit=1, name="activity_progress.any_unsent"))
    return bool(rows)


def _draft_items(form: dict, count: int, kind: str) -> list[dict]:
    out = []
    for i in range(min(count, 60)):
        def lines(name):
            return [x.strip() for x in (form.get(f"{name}_{i}") or "").splitlines() if x.strip()]

        item: dict = {"format": kind, "concept": form.get(f"concept_{i}", ""), "hints": lines("hints")}
        if kind == "flashcard":
            item.update(front=form.get(f"front_{i}", ""), back=form.get(f"back_{i}", ""))
        else:
            item.update(prompt=form.get(f"prompt_{i}", ""), answers=lines("answers"))
        raw = form.get(f"difficulty_{i}", "5")
        item["difficulty"] = int(raw) if raw.strip().isdigit() else raw
        out.append(item)
    return out


@router.post("/app/activities/{activity_id}", response_class=HTMLResponse)
async def activity_action(activity_id: str, request: Request, session: Session = Depends(require_page_session)):
    current = "/app/activities"
    refused = _instructors_only(request, session, current)
    if refused:
        return refused
    pairs = await read_pairs(request, limit=64 * 1024)
    form = dict(pairs)
    env = request.scope["env"]
    db = Database(env)
    path = f"/app/activities/{activity_id}"
    action = form.get("action", "")
    try:
        activity = await _activity(request, session, activity_id)
        if activity is None:
            raise Problem(404, "Not Found", "No such activity in this course.")
        try:
            if action == "settings":
                changes = _settings_changes(form)
                await practice.update_activity(db, session.scope, activity, changes)
                return _redirect(session, path, "settings")
            if action == "retry":
                await practice.retry_failed_grades(db, session.scope, activity)
                await gradebook.request_sync(env, session.scope.tenant_id, session.scope.d1_binding, activity_id)
                return _redirect(session, path, "retry")
            if action == "draft":
                text = (form.get("text") or "").strip()
                if len(text) < 20:
                    raise practice.PracticeError(422, "validation", "Paste at least a few sentences of course text.")
                _draft, cached = await practice.create_draft(db, session.scope, env, activity, text[:20_000])
                return _redirect(session, path, "draft-cached" if cached else "draft")
            if action in ("draft-save", "draft-approve", "draft-discard"):
                draft_id = form.get("draft", "")
                if action == "draft-discard":
                    await practice.discard_draft(db, session.scope, activity_id, draft_id)
                    return _redirect(session, path, "discarded")
                count = int(form.get("count", "0")) if form.get("count", "0").isdigit() else 0
                kind = practice.ITEM_FORMAT.get(activity["assessment_type"], "fill_blank")
                await practice.update_draft(db, session.scope, session.context_id, activity_id, draft_id,
                                            _draft_items(form, count, kind))
                if action == "draft-save":
                    return _redirect(session, path, "saved")
                chosen = [int(v) for k, v in pairs if k == "include" and v.isdigit()]
                if not chosen:
                    raise practice.PracticeError(422, "validation", "Check at least one item to approve.")
                await practice.approve_draft(db, session.scope, session.context_id, session.lti_user_id,
                                             activity_id, draft_id, chosen)
                return _redirect(session, path, "approved")
            raise practice.PracticeError(400, "validation", "Unknown action.")
        except practice.PracticeError as exc:
            body = await _activity_body(request, session, activity, _problem_errors(exc))
            return _render(request, session, activity["title"], body, current, status=exc.status)
    except DataUnavailable:
        return _outage(request, session, current)


def _settings_changes(form: dict) -> dict:
    errors = []
    changes: dict = {}
    title = (form.get("title") or "").strip()
    if not 1 <= len(title) <= 200:
        errors.append("Title: 1 to 200 characters.")
    changes["title"] = title
    for name, label, lo, hi, kind in (("mastery_threshold", "Mastery threshold", 0, 100, float),
                                      ("engagement_target", "Engagement target", 1, 1000, int),
                                      ("typo_tolerance", "Typos forgiven", 0, 3, int)):
        raw = (form.get(name) or "").strip()
        try:
            value = kind(raw)
            if not lo <= value <= hi:
                raise ValueError
            changes[name] = value
        except ValueError:
            errors.append(f"{label}: a number from {lo} to {hi}.")
    if form.get("grading_schema") not in ("mastery", "percentage", "engagement"):
        errors.append("Grading: choose mastery, percentage or engagement.")
    else:
        changes["grading_schema"] = form["grading_schema"]
    if form.get("status") not in ("open", "closed"):
        errors.append("Status: open or closed.")
    else:
        changes["status"] = form["status"]
    closes = (form.get("closes_at") or "").strip()
    if closes:
        from datetime import datetime

        try:
            parsed = datetime.fromisoformat(closes)
            changes["closes_at"] = parsed.strftime("%Y-%m-%dT%H:%M:00.000Z")
        except ValueError:
            errors.append("Closes at: a date and time.")
    else:
        changes["closes_at"] = None
    if errors:
        raise practice.PracticeError(422, "validation", "The settings were not saved.", {"problems": errors})
    return changes


# -- the question bank ----------------------------------------------------------------------------

def _item_rows(session: Session, listing: dict) -> str:
    rows = ""
    for it in listing["items"]:
        text = it.get("prompt") or it.get("front") or ""
        key = " | ".join(it.get("answers") or []) if it["format"] == "fill_blank" else it.get("back", "")
        edit = shell.page_url(session, f"/app/question-bank/items/{it['id']}")
        actions = ""
        action = shell.page_url(session, "/app/question-bank")
        for value, label, show in (("approve", "Approve", it["status"] == "awaiting_approval"),
                                   ("retire", "Retire", it["status"] != "retired"),
                                   ("restore", "Restore", it["status"] == "retired")):
            if show:
                actions += (f'<form method="post" action="{esc(action)}" class="inline"><input type="hidden" '
                            f'name="action" value="{value}"><input type="hidden" name="item" value="{esc(it["id"])}">'
                            f'<button type="submit" class="secondary" aria-label="{label}: {esc(text[:60])}">{label}'
                            "</button></form> ")
        rows += (f'<tr data-item="{esc(it["id"])}"><td>{esc(it.get("concept_name") or it["concept"])}</td>'
                 f'<td>{"Fill in the blank" if it["format"] == "fill_blank" else "Flashcard"}</td>'
                 f"<td>{esc(text)}</td><td>{esc(key)}</td><td>{it['difficulty']}</td>"
                 f'<td>{esc(it["status"].replace("_", " "))}</td><td><a href="{esc(edit)}" aria-label="Edit: '
                 f'{esc(text[:60])}">Edit</a> {actions}</td></tr>')
    return rows


async def _bank_body(request: Request, session: Session, errors: list[str], text: str = "", kind: str = "csv") -> str:
    db = Database(request.scope["env"])
    listing = await practice.list_items(db, session.scope, session.context_id, limit=practice.MAX_PAGE)
    graph, course_ids = await practice.course_concept_ids(db, session.scope, session.context_id)
    concepts = "".join(f'<li><code class="concept-id">{esc(c)}</code> {esc(graph[c].name)}</li>'
                       for c in sorted(course_ids, key=lambda c: graph[c].name.casefold()))
    concept_part = (f'<details id="course-concepts"><summary>Concept ids of this course ({len(course_ids)})</summary>'
                    f"<ul>{concepts}</ul></details>") if course_ids else (
        '<p class="muted">This course has no concepts yet: name some when you add an activity.</p>')
    action = shell.page_url(session, "/app/question-bank")
    kinds = "".join(f'<option value="{k}"{" selected" if kind == k else ""}>{label}</option>'
                    for k, label in (("csv", "CSV"), ("json", "JSON")))
    table = ('<div class="table-wrap"><table id="bank-table"><caption>Items of this course\'s concepts ('
             f'{listing["total"]})</caption><thead><tr><th scope="col">Concept</th><th scope="col">Format</th>'
             '<th scope="col">Prompt / front</th><th scope="col">Answer key</th><th scope="col">Difficulty</th>'
             '<th scope="col">Status</th><th scope="col">Actions</th></tr></thead><tbody>'
             f"{_item_rows(session, listing)}</tbody></table></div>") if listing["items"] else (
        '<p id="bank-empty">No items yet for this course\'s concepts.</p>')
    return (f'<h1 id="bank-title">Question bank</h1>{_notice(request)}{_errors(errors)}'
            '<section class="card" aria-labelledby="import-title"><h2 id="import-title">Import items</h2>'
            "<p>A CSV or JSON file of at most 64 KiB (about 300 items) and 500 items; every item needs a concept "
            "of this course. Any bad row stops the whole file, and each problem is listed with its line. Templates: "
            f'<a href="{assets.path("question-bank-template.csv")}" download="question-bank-template.csv" '
            f'id="template-csv">CSV</a>, <a href="{assets.path("question-bank-template.json")}" '
            'download="question-bank-template.json" id="template-json">JSON</a>.</p>' + concept_part +
            f'<form method="post" action="{esc(action)}" id="import-form"><input type="hidden" name="action" '
            'value="import"><label for="import-file" hidden>File</label><input type="file" id="import-file" '
            'accept=".csv,.json,text/csv,application/json" hidden><p id="import-file-note" class="muted" '
            'role="status"></p><label for="import-kind">Format</label>'
            f'<select id="import-kind" name="kind">{kinds}</select>'
            '<label for="import-text">File contents (paste, or choose a file above)</label>'
            f'<textarea id="import-text" name="text" rows="8">{esc(text)}</textarea>'
            '<div class="actions"><button type="submit" id="import-button">Import</button></div></form></section>'
            f'<section class="card" aria-labelledby="review-title"><h2 id="review-title">Review</h2>{table}</section>')


@router.get("/app/question-bank", response_class=HTMLResponse)
async def bank_page(request: Request, session: Session = Depends(require_page_session)):
    current = "/app/question-bank"
    refused = _instructors_only(request, session, current)
    if refused:
        return refused
    try:
        body = await _bank_body(request, session, [])
    except DataUnavailable:
        return _outage(request, session, current)
    return _render(request, session, "Question bank", body, current, scripts=(assets.path("questions.js"),))


@router.post("/app/question-bank", response_class=HTMLResponse)
async def bank_action(request: Request, session: Session = Depends(require_page_session)):
    current = "/app/question-bank"
    refused = _instructors_only(request, session, current)
    if refused:
        return refused
    form = await read_form(request, limit=70 * 1024)
    db = Database(request.scope["env"])
    action = form.get("action", "")
    try:
        try:
            if action == "import":
                text = form.get("text") or ""
                if len(text.encode()) > api.IMPORT_LIMIT_BYTES:
                    raise practice.PracticeError(413, "import-too-large", "Imports are limited to 64 KiB (about 300 "
                                                 "items); split the file and import the parts.")
                kind = "json" if form.get("kind") == "json" else "csv"
                if kind == "json":
                    try:
                        json.loads(text)
                    except ValueError as exc:
                        raise practice.PracticeError(400, "malformed-json", f"The file is not valid JSON: {exc}")
                await practice.import_items(db, session.scope, session.context_id, session.lti_user_id, text, kind)
                return _redirect(session, current, "imported")
            if action in ("approve", "retire", "restore"):
                changes = {"approve": {"approved": True}, "retire": {"status": "retired"},
                           "restore": {"status": "active"}}[action]
                await practice.update_item(db, session.scope, session.context_id, form.get("item", "")[:64], changes)
                return _redirect(session, current, "item")
            raise practice.PracticeError(400, "validation", "Unknown action.")
        except practice.PracticeError as exc:
            body = await _bank_body(request, session, _problem_errors(exc), form.get("text") or "",
                                    form.get("kind") or "csv")
            return _render(request, session, "Question bank", body, current, status=exc.status,
                           scripts=(assets.path("questions.js"),))
    except DataUnavailable:
        return _outage(request, session, current)


def _item_form(session: Session, it: dict, concepts: list[tuple[str, str]]) -> str:
    action = shell.page_url(session, f"/app/question-bank/items/{it['id']}")
    options = "".join(f'<option value="{esc(c)}"{" selected" if it["concept"] == c else ""}>{esc(n)}</option>'
                      for c, n in concepts)
    if it["format"] == "flashcard":
        main = (f'<label for="i-front">Front</label><input id="i-front" name="front" value="{esc(it["front"])}">'
                f'<label for="i-back">Back</label><textarea id="i-back" name="back" rows="3">{esc(it["back"])}'
                "</textarea>")
    else:
        main = (f'<label for="i-prompt">Prompt (___ marks the gap)</label><textarea id="i-prompt" name="prompt" '
                f'rows="3">{esc(it["prompt"])}</textarea><label for="i-answers">Accepted answers (one per line)'
                f'</label><textarea id="i-answers" name="answers" rows="3">{esc(_lines(it["answers"]))}</textarea>')
    mis = "\n".join(f"{m['answer']} => {m['feedback']}" for m in it.get("misconceptions", []))
    status = "".join(f'<option value="{k}"{" selected" if (it["status"] == "retired") == (k == "retired") else ""}>'
                     f"{label}</option>" for k, label in (("active", "Active"), ("retired", "Retired")))
    return (f'<form method="post" action="{esc(action)}" id="item-form">{main}'
            f'<label for="i-concept">Concept</label><select id="i-concept" name="concept">{options}</select>'
            f'<label for="i-hints">Hints, gentlest first (one per line)</label><textarea id="i-hints" name="hints" '
            f'rows="3">{esc(_lines(it["hints"]))}</textarea>'
            f'<label for="i-mis">Misconceptions (one per line: wrong answer => feedback)</label><textarea id="i-mis" '
            f'name="misconceptions" rows="3">{esc(mis)}</textarea><div class="field-row">'
            f'<div><label for="i-difficulty">Difficulty (1-10)</label><input id="i-difficulty" type="number" min="1" '
            f'max="10" name="difficulty" value="{it["difficulty"]}"></div>'
            f'<div><label for="i-status">Status</label><select id="i-status" name="status">{status}</select></div>'
            "</div>"
            f'<label class="option" for="i-approved"><input type="checkbox" id="i-approved" name="approved" value="1"'
            f'{" checked" if it["approved"] else ""}><span>Approved for learners</span></label>'
            '<div class="actions"><button type="submit" id="item-save">Save item</button></div></form>')


async def _item_page(request: Request, session: Session, item_id: str, errors: list[str], status: int = 200):
    db = Database(request.scope["env"])
    try:
        it = practice.item_view(await practice.get_item(db, session.scope, session.context_id, item_id))
    except practice.PracticeError:
        raise Problem(404, "Not Found", "No such item in this course's bank.") from None
    graph, course_ids = await practice.course_concept_ids(db, session.scope, session.context_id)
    concepts = [(c, graph[c].name) for c in sorted(course_ids)]
    back = shell.page_url(session, "/app/question-bank")
    body = (f'<h1 id="item-title">Edit item</h1>{_errors(errors)}{_item_form(session, it, concepts)}'
            f'<p><a href="{esc(back)}">Back to the question bank</a></p>')
    return _render(request, session, "Edit item", body, "/app/question-bank", status=status)


@router.get("/app/question-bank/items/{item_id}", response_class=HTMLResponse)
async def item_page(item_id: str, request: Request, session: Session = Depends(require_page_session)):
    refused = _instructors_only(request, session, "/app/question-bank")
    if refused:
        return refused
    try:
        return await _item_page(request, session, item_id, [])
    except DataUnavailable:
        return _outage(request, session, "/app/question-bank")


@router.post("/app/question-bank/items/{item_id}", response_class=HTMLResponse)
async def item_save(item_id: str, request: Request, session: Session = Depends(require_page_session)):
    refused = _instructors_only(request, session, "/app/question-bank")
    if refused:
        return refused
    form = await read_form(request, limit=64 * 1024)

    def lines(name):
        return [x.strip() for x in (form.get(name) or "").splitlines() if x.strip()]

    changes: dict = {"concept": form.get("concept", ""), "hints": lines("hints"),
                     "approved": form.get("approved") == "1",
                     "status": "retired" if form.get("status") == "retired" else "active"}
    for name in ("prompt", "front", "back"):
        if name in form:
            changes[name] = form[name]
    if "answers" in form:
        changes["answers"] = lines("answers")
    raw = (form.get("difficulty") or "").strip()
    changes["difficulty"] = int(raw) if raw.isdigit() else raw
    mis = []
    for line in lines("misconceptions"):
        wrong, sep, feedback = line.partition("=>")
        mis.append({"answer": wrong.strip(), "feedback": feedback.strip()} if sep else {"answer": wrong.strip()})
    changes["misconceptions"] = mis
    try:
        await practice.update_item(Database(request.scope["env"]), session.scope, session.context_id, item_id,
                                   changes)
    except practice.PracticeError as exc:
        if exc.status == 404:
            raise Problem(404, "Not Found", "No such item in this course's bank.") from None
        return await _item_page(request, session, item_id, _problem_errors(exc), exc.status)
    except DataUnavailable:
        return _outage(request, session, "/app/question-bank")
    return _redirect(session, "/app/question-bank", "item")
