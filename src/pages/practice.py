"""The learner's practice page (`/app/practice`): the activity their launch opened, one
item at a time, feedback and hints, progress toward mastery, and whether the grade has
gone to the gradebook. Works without script (forms post back here and the page is
rendered again); practice.js makes the same posts in place and follows a grade being sent."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

import clock
from api import practice as api
from chat import policy as guide_policy
from auth.session import Session, require_page_session
from db.database import ConstraintViolation, Database, DataUnavailable
from learner import memory as mem
from pages import chat_panel, shell
from pages import guide as guide_pages
from pages import struggle as struggle_page
from practice import service as practice
from problems import Problem
from web import assets
from web.page import esc

router = APIRouter(include_in_schema=False)

PRACTICE_CSS = """
.practice-area{display:grid;gap:.75rem}
.prompt{font-size:1.15rem;margin:.5rem 0 1rem}
.cardface{font-size:1.3rem;font-weight:600;border:2px solid var(--line);border-radius:var(--radius);padding:1rem;
margin:.5rem 0;text-align:center;overflow-wrap:anywhere}
.cardface.back{font-weight:400;font-size:1.1rem}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.75rem}
.grades{display:grid;grid-template-columns:repeat(auto-fit,minmax(7.5rem,1fr));gap:.5rem}
.feedback.ok{border-color:var(--ok);background:#eef7f0}
.feedback.no{border-color:var(--bad);background:#fdf0f0}
.feedback h2{margin-top:0}
.hints ol{margin:.25rem 0 0;padding-left:1.25rem}
.bar{height:.75rem;background:#e8e8e8;border-radius:999px;overflow:hidden;margin:.25rem 0 .5rem}
.bar>span{display:block;height:100%;background:var(--accent)}
.bar.done>span{background:var(--ok)}
.concepts{list-style:none;padding:0;margin:0}
.concepts li{margin:.35rem 0}
.badge{display:inline-block;font-size:.85rem;border:1px solid var(--line);border-radius:999px;padding:0 .5rem}
.badge.ok{border-color:var(--ok);color:var(--ok)}
.badge.bad{border-color:var(--bad);color:var(--bad)}
.answer-input{width:100%;font-size:1.1rem}
.inline{display:inline}
.w-0{width:0%}.w-5{width:5%}.w-10{width:10%}.w-15{width:15%}.w-20{width:20%}.w-25{width:25%}.w-30{width:30%}
.w-35{width:35%}.w-40{width:40%}.w-45{width:45%}.w-50{width:50%}.w-55{width:55%}.w-60{width:60%}.w-65{width:65%}
.w-70{width:70%}.w-75{width:75%}.w-80{width:80%}.w-85{width:85%}.w-90{width:90%}.w-95{width:95%}.w-100{width:100%}
.field-row{display:grid;gap:.5rem;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr))}
textarea{width:100%}
input[type=text],input:not([type]),input[type=number],input[type=datetime-local],select{width:100%}
.option input,.actions input{width:auto}
"""

# Posts the page's forms in place (the server renders the same fragment it would render
# in a whole page), moves focus to the feedback, and follows a grade on its way to the
# gradebook. Without this script every form still works by a full page load.
PRACTICE_JS = """
(function(){
  "use strict";
  var AG = window.AtomicGuide || {};
  var cfg = AG.config || {};
  var area = document.getElementById("practice-area");
  if (!area || !window.fetch || !window.URLSearchParams) return;
  var busy = false;
  area.addEventListener("submit", function(e){
    var form = e.target;
    if (!form.matches("form[data-practice]")) return;
    e.preventDefault();
    if (busy) return;
    busy = true;
    var data = new URLSearchParams();
    new FormData(form).forEach(function(v, k){ data.append(k, v); });
    var by = e.submitter;
    if (by && by.name) data.append(by.name, by.value);
    var status = document.getElementById("practice-status");
    if (status) status.textContent = "Checking…";
    // getAttribute: form.action would be the control named "action".
    fetch(form.getAttribute("action"), {method: "POST", body: data, credentials: "omit",
                        headers: {"X-AG-Fragment": "1", "Content-Type": "application/x-www-form-urlencoded"}})
      .then(function(r){ return r.text().then(function(t){ return {ok: r.ok, text: t}; }); })
      .then(function(res){
        area.innerHTML = res.text;
        var target = document.getElementById("feedback") || document.getElementById("item-title") ||
                     document.getElementById("practice-error");
        if (target) { target.setAttribute("tabindex", "-1"); target.focus(); }
        offer();
        follow();
      })
      .catch(function(){
        if (status) status.textContent = "The answer could not be sent; check your connection and try again.";
      })
      .then(function(){ busy = false; });
  });
  // An offer of help the answer brought (struggle detection): shown by struggle.js.
  function offer(){
    var holder = document.getElementById("struggle-offer");
    if (!holder || !AG.struggle || !AG.struggle.show) return;
    try { AG.struggle.show(JSON.parse(holder.getAttribute("data-offer"))); } catch (err) { /* not shown */ }
  }
  offer();
  var polls = 0;
  function follow(){
    var line = document.getElementById("grade-status");
    if (!line || !cfg.progressUrl) return;
    var state = line.getAttribute("data-state");
    if (state !== "pending" && state !== "retrying") { polls = 0; return; }
    if (polls++ > 20) return;
    setTimeout(function(){
      AG.api(cfg.progressUrl).then(function(r){ return r.ok ? r.json() : null; }).then(function(p){
        if (!p) return;
        var g = p.grade || {};
        var now = document.getElementById("grade-status");
        if (!now) return;
        now.setAttribute("data-state", g.status);
        if (g.status === "sent" && g.up_to_date) {
          now.textContent = "Your grade (" + g.sent_score + "%) has been sent to the gradebook.";
        } else if (g.status === "retrying" || g.status === "failed") {
          now.textContent = "Your grade could not be sent yet; it will be sent again automatically.";
        }
        follow();
      });
    }, 1500);
  }
  follow();
})();
"""

assets.add("practice.css", PRACTICE_CSS, assets.CSS_TYPE)
assets.add("practice.js", PRACTICE_JS, assets.JS_TYPE)
TYPE_LABELS = {"flashcards": "Flashcards", "fill_blank": "Fill in the blank", "chat": "Guide conversation"}
REASONS = {"review": "A review that is due", "learn": "Next up", "stretch": "A step ahead of what you have mastered",
           "practice": "Keeping it fresh", "repeat": "Once more"}


def pct_class(value: float) -> str:
    """The width class of a bar (CSP allows no style attributes): 5% steps."""
    return f"w-{int(max(0, min(100, round(value / 5) * 5)))}"


# -- fragments -----------------------------------------------------------------------------------

def feedback_html(out: dict) -> str:
    ok = out["correct"]
    title = "Correct" if ok else ("Marked to review" if out["outcome"] == "again" else "Not quite")
    parts = [f'<p id="feedback-text">{esc(out["feedback"])}</p>'] if out["feedback"] != "Correct." else []
    if out.get("expected") and (not ok or out["outcome"] in ("typo", "alternative", "numeric")):
        label = "The card says" if out["outcome"] in ("again", "hard", "good", "easy") else "The expected answer"
        parts.append(f'<p id="feedback-expected">{label}: <strong>{esc(out["expected"])}</strong></p>')
    if out.get("hints_used"):
        parts.append(f'<p class="muted">You used {out["hints_used"]} hint(s): a right answer counts a little less '
                     "toward mastery.</p>")
    concept = out.get("concept") or {}
    if concept:
        parts.append(f'<p class="muted" id="feedback-mastery">Your mastery of {esc(concept.get("name"))}: '
                     f'{round(100 * float(concept.get("mastery", 0)))}%.</p>')
    return (f'<section id="feedback" class="card feedback {"ok" if ok else "no"}" role="status" '
            f'aria-labelledby="feedback-title"><h2 id="feedback-title">{title}</h2>{"".join(parts)}</section>')


def _hidden(item: dict) -> str:
    return (f'<input type="hidden" name="item" value="{esc(item["item_id"])}">'
            f'<input type="hidden" name="presentation" value="{esc(item["presentation_id"] or "")}">')


def item_html(item: dict | None, action: str, is_open: bool, number: int) -> str:
    if item is None:
        return ('<section class="card" id="no-items" aria-labelledby="item-title"><h2 id="item-title">Nothing to '
                "practise yet</h2><p>Your instructor has not added approved items to this activity yet. Come back "
                "later.</p></section>")
    reason = REASONS.get(item.get("reason") or "", "Where you left off" if item.get("resumed") else "")
    head = (f'<h2 id="item-title">Item {number} <span class="muted">· {esc(item["concept"]["name"])}</span></h2>'
            + (f'<p class="muted" id="item-reason">{esc(reason)}</p>' if reason else ""))
    hints = ""
    if item["hints"]:
        hints = ('<div class="hints" id="hints"><h3>Hints</h3><ol>'
                 + "".join(f"<li>{esc(h)}</li>" for h in item["hints"]) + "</ol></div>")
    left = item["hints_available"] - len(item["hints"])
    closed = "" if is_open else ('<p class="card warn" id="closed-note" role="status">This activity is closed; '
                                 "answers are no longer accepted.</p>")
    if item["format"] == "fill_blank":
        prompt = esc(item["prompt"])
        controls = ""
        if is_open:
            hint_button = (f'<button type="submit" name="action" value="hint" class="secondary" id="hint-button" '
                           f'formnovalidate>Show a hint ({left} left)</button>' if left > 0 else "")
            controls = (f'<form data-practice method="post" action="{esc(action)}" id="answer-form">{_hidden(item)}'
                        '<label for="answer-input">Your answer</label>'
                        '<input id="answer-input" class="answer-input" name="response" autocomplete="off" '
                        'autocapitalize="off" spellcheck="false" maxlength="2000" aria-describedby="prompt">'
                        '<div class="actions"><button type="submit" name="action" value="answer" id="check-button">'
                        f"Check</button>{hint_button}</div></form>")
        return (f'<section class="card" id="item" aria-labelledby="item-title">{head}'
                f'<p class="prompt" id="prompt">{prompt}</p>{hints}{closed}{controls}</section>')
    front = f'<p class="cardface" id="card-front">{esc(item["front"])}</p>'
    if item.get("back") is None:
        controls = (f'<form data-practice method="post" action="{esc(action)}" id="reveal-form">{_hidden(item)}'
                    '<p>Say the answer to yourself, then turn the card.</p><div class="actions">'
                    '<button type="submit" name="action" value="reveal" id="reveal-button">Show answer</button>'
                    "</div></form>") if is_open else ""
        return f'<section class="card" id="item" aria-labelledby="item-title">{head}{front}{closed}{controls}</section>'
    back = f'<p class="cardface back" id="card-back">{esc(item["back"])}</p>'
    grades = "".join(f'<button type="submit" name="grade" value="{g}" id="grade-{g}"'
                     f'{" class=secondary" if g != "good" else ""}>{label}</button>'
                     for g, label in (("again", "Again"), ("hard", "Hard"), ("good", "Good"), ("easy", "Easy")))
    controls = (f'<form data-practice method="post" action="{esc(action)}" id="grade-form">{_hidden(item)}'
                '<input type="hidden" name="action" value="answer"><fieldset><legend>How well did you recall it?'
                f'</legend><div class="grades">{grades}</div></fieldset></form>') if is_open else ""
    return (f'<section class="card" id="item" aria-labelledby="item-title">{head}{front}{back}{closed}{controls}'
            "</section>")


def grade_line(progress: dict) -> str:
    g = progress["grade"]
    if not progress["graded"]:
        return '<p id="grade-status" data-state="not_graded" class="muted">This activity is not graded.</p>'
    if g["status"] == "sent" and g["up_to_date"]:
        text = f"Your grade ({g['sent_score']:g}%) has been sent to the gradebook."
    elif g["status"] in ("pending",):
        text = f"Sending your grade ({g['score']:g}%) to the gradebook…"
    elif g["status"] in ("retrying", "failed"):
        text = "Your grade could not be sent yet; it will be sent again automatically."
    else:
        text = "Your grade goes to the gradebook as it changes."
    return f'<p id="grade-status" data-state="{esc(g["status"])}" role="status">{esc(text)}</p>'


def progress_html(progress: dict) -> str:
    schema = {"mastery": "concepts mastered", "percentage": "answers right",
              "engagement": "items attempted against the target"}[progress["grading_schema"]]
    done = progress["mastered"]
    badge = '<span class="badge ok">mastered</span>'
    concepts = "".join(
        f'<li><span id="concept-{i}">{esc(c["name"])}</span> {badge if c["mastered"] else ""}'
        f'<div class="bar{" done" if c["mastered"] else ""}" role="progressbar" aria-labelledby="concept-{i}" '
        f'aria-valuemin="0" aria-valuemax="100" aria-valuenow="{round(100 * c["mastery"])}">'
        f'<span class="{pct_class(100 * c["mastery"])}"></span></div></li>'
        for i, c in enumerate(progress["concepts"]))
    share = round(100 * progress["concepts_mastered"] / progress["concept_count"]) if progress["concept_count"] else 0
    return (f'<section class="card" id="progress" aria-labelledby="progress-title"><h2 id="progress-title">Your '
            f'progress</h2><p id="progress-summary">{progress["concepts_mastered"]} of '
            f'{progress["concept_count"]} concept(s) mastered ({share}%; mastery at {progress["threshold"]:g}%). '
            f'Grade: <strong id="progress-score">{progress["score"]:g}%</strong> ({schema}). '
            f'{progress["attempts"]} answer(s), {progress["correct"]} right.</p>'
            f'<ul class="concepts">{concepts}</ul>{"" if done else grade_line(progress)}</section>')


def mastered_html(progress: dict) -> str:
    """Said plainly, first: the activity is mastered, and where the grade is."""
    return ('<section class="card feedback ok" id="mastered-note" aria-labelledby="mastered-title">'
            '<h2 id="mastered-title">You have mastered this activity</h2><p>You can keep practising; reviews come '
            f"back when they are due.</p>{grade_line(progress)}</section>")


def area_html(item: dict | None, progress: dict, action: str, is_open: bool, feedback: dict | None = None,
              error: str | None = None) -> str:
    note = f'<p class="card warn" id="practice-error" role="alert">{esc(error)}</p>' if error else ""
    fb = feedback_html(feedback) if feedback else ""
    offer = ((feedback or {}).get("struggle") or {}).get("intervention")
    if offer:
        # struggle.js shows it (docked, announced politely); the answer stays the focus
        fb += f'<div id="struggle-offer" hidden data-offer="{esc(json.dumps(offer))}"></div>'
    done = mastered_html(progress) if progress["mastered"] else ""
    return (f'{note}{done}{fb}{item_html(item, action, is_open, progress["attempts"] + 1)}'
            f'<p id="practice-status" class="visually-hidden" role="status"></p>{progress_html(progress)}')


# -- routes --------------------------------------------------------------------------------------

async def _context(request: Request, session: Session) -> tuple[Database, dict | None, dict | None]:
    db = Database(request.scope["env"])
    activity = await practice.activity_for_link(db, session.scope, session.claims.rl)
    if activity is not None and activity["course_context"] != session.context_id:
        activity = None
    profile = await practice.learner_profile(db, session.scope, session.lti_user_id) if activity else None
    return db, activity, profile


def _no_activity(request: Request, session: Session, text: str, status: int = 200) -> HTMLResponse:
    body = f'<h1 id="practice-title">Practice</h1><p id="practice-none">{text}</p>'
    return shell.render(request, session, "Practice", body, "/app/practice", status=status)


async def _page(request: Request, session: Session, feedback: dict | None = None, error: str | None = None,
                status: int = 200) -> HTMLResponse:
    if session.is_instructor:
        return _no_activity(request, session, "This page is where learners practise. Instructors manage activities "
                            f'under <a href="{esc(shell.page_url(session, "/app/activities"))}">Activities</a>.')
    try:
        db, activity, profile = await _context(request, session)
        if activity is None:
            return _no_activity(request, session, "Open a practice activity from your course's modules to "
                                                  "practise here.")
        if activity["assessment_type"] == "chat":
            link = shell.page_url(session, f"/app/guide/{activity['id']}")
            return _no_activity(request, session, f'This activity is a <a href="{esc(link)}">Guide conversation</a>.')
        now_ms = clock.now_ms(request.scope["env"])
        is_open = practice.is_open(activity, mem.to_iso(mem.from_epoch_ms(now_ms)))
        nxt = await practice.next_item(db, session.scope, activity, profile["id"], profile["lti_user_id"], now_ms)
        progress = await practice.my_progress(db, session.scope, activity, profile["id"], profile["lti_user_id"])
    except DataUnavailable:
        return _no_activity(request, session, "Your practice cannot be loaded right now (database outage); try again "
                                              "in a few minutes.", 503)
    except practice.PracticeError as exc:
        return _no_activity(request, session, esc(exc.detail), exc.status)
    action = shell.page_url(session, "/app/practice")
    area = area_html(nxt["item"], progress, action, is_open, feedback, error)
    if request.headers.get("x-ag-fragment") == "1":
        return HTMLResponse(area, status_code=status, headers={"Cache-Control": "no-store",
                                                               "X-Content-Type-Options": "nosniff"})
    body = (f'<h1 id="practice-title">{esc(activity["title"])}</h1>'
            f'<p class="muted">{TYPE_LABELS[activity["assessment_type"]]} · {esc(session.claims.ct or "")}</p>'
            f'<div id="practice-area" class="practice-area">{area}</div>')
    # Struggle detection's script, as on every learner page, and the Guide's panel where the
    # Guide may help (graded activities: only if the instructor turned it on for this one).
    panel, chat_config = "", {"available": False}
    if guide_policy.guide_allowed(activity):
        panel, chat_config = await guide_pages.learner_panel(request, session, activity=activity)
    config = {"activityId": activity["id"], "progressUrl": f"/api/activities/{activity['id']}/progress",
              **struggle_page.learner_config(session, profile, guide=bool(panel)), "chat": chat_config}
    return shell.render(request, session, activity["title"], body + panel, "/app/practice", status=status,
                        scripts=(*struggle_page.learner_scripts(), chat_panel.script(), assets.path("practice.js")),
                        styles=(assets.path("practice.css"), chat_panel.style()), config=config)


@router.get("/app/practice", response_class=HTMLResponse)
async def practice_page(request: Request, session: Session = Depends(require_page_session)):
    return await _page(request, session)


async def read_pairs(request: Request, limit: int = 16 * 1024) -> list[tuple[str, str]]:
    """A urlencoded form post as (name, value) pairs, in order (checkbox groups repeat names)."""
    body = await request.body()
    if len(body) > limit:
        raise Problem(413, "Content Too Large", "The form is too large.")
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise Problem(400, "Bad Request", "The form is not UTF-8.") from None


async def read_form(request: Request, limit: int = 16 * 1024) -> dict[str, str]:
    return dict(await read_pairs(request, limit))


@router.post("/app/practice", response_class=HTMLResponse)
async def practice_action(request: Request, session: Session = Depends(require_page_session)):
    """The page's forms: a hint, turning a flashcard, an answer (the presentation id of the
    item shown is the answer's idempotency key, so a double submit records it once)."""
    form = await read_form(request)
    if session.is_instructor:
        return await _page(request, session)
    action = form.get("action") or ("answer" if form.get("grade") else "")
    item_id = form.get("item", "")[:64]
    try:
        db, activity, profile = await _context(request, session)
        if activity is None:
            return _no_activity(request, session, "Open a practice activity from your course's modules to "
                                                  "practise here.", 404)
        if action == "hint":
            await practice.hint(db, session.scope, activity, profile["id"], profile["lti_user_id"], item_id)
            return await _page(request, session)
        if action == "reveal":
            await practice.reveal(db, session.scope, activity, profile["id"], profile["lti_user_id"], item_id)
            return await _page(request, session)
        if action == "answer":
            key = form.get("presentation", "")
            if not api._KEY.match(key):
                return await _page(request, session, error="This item was shown in another window; here is the "
                                                           "current one.", status=409)
            given = practice.AnswerIn(item_id, form.get("response") if "grade" not in form else None,
                                      form.get("grade"), 0)
            out = await api.record(request, session, activity["id"], key, given)
            return await _page(request, session, feedback=out)
    except DataUnavailable:
        return await _page(request, session, error="Your answer could not be saved (database outage); try again "
                                                   "in a minute.", status=503)
    except ConstraintViolation:
        return await _page(request, session, error="That answer could not be stored.", status=422)
    except practice.PracticeError as exc:
        return await _page(request, session, error=exc.detail, status=exc.status)
    except Problem as exc:
        return await _page(request, session, error=exc.detail, status=exc.status)
    return await _page(request, session, error="Choose what to do: answer, ask for a hint, or turn the card.",
                       status=400)
