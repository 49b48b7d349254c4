"""The page side of struggle detection: the learner pages' script (collects behaviour,
throttles and batches it, shows an offer of help and reports the reaction) with the
config it reads, and the instructor home's "Struggling recently" section."""

from __future__ import annotations

import privacy
from auth.session import Session
from struggle.intake import MAX_BATCH
from web import assets
from web.page import esc

# Collected on every learner page that includes it (today the learner home; practice
# pages add it too). Elements opt in: `data-ag-item="<id>"` for time on an element and
# returning to it, `data-ag-help="hint|explanation|example|chat"` for help requests.
# Pages may also call AtomicGuide.struggle.signal({...}) and .show(offer) (an offer
# returned by another route, e.g. an answer's). It dispatches `atomicguide:offer`
# (detail: {offer, outcome}) so the page can act on an accepted offer.
STRUGGLE_JS = r"""
(function(){
  "use strict";
  var AG = window.AtomicGuide;
  var cfg = AG && AG.config && AG.config.struggle;
  if (!cfg) return;
  var enabled = !!cfg.collect;
  var queue = [], inflight = false, pausedUntil = 0;
  var sent = [];  // times of the signals taken this last minute (a sliding minute, as the server counts)
  var HOUR = 3600000;  // the longest duration the API takes
  var shown = {};
  var dock = null;

  function clean(id){ return String(id || "").replace(/[^A-Za-z0-9_.:\/#-]/g, "_").slice(0, 100) || null; }

  // -- batching: a client-side budget below the server's per-minute limit, one request
  // in flight, a batch every batchMs or when maxBatch signals wait, urgent ones at once.
  function push(sig, urgent){
    if (!enabled) return;
    var t = Date.now();
    sent = sent.filter(function(s){ return t - s < 60000; });
    if (sent.length >= cfg.perMinute) return;  // the server would refuse it: drop it here
    sent.push(t);
    if (sig.ms !== undefined) sig.ms = Math.max(1, Math.min(HOUR, Math.round(sig.ms)));
    if (sig.target !== undefined) sig.target = clean(sig.target);
    sig.t = t;
    queue.push(sig);
    if (urgent || queue.length >= cfg.maxBatch) send(false);
  }

  // The last batch goes with fetch(..., {keepalive: true}) when the page is hidden or
  // left: navigator.sendBeacon cannot set the Authorization header the API needs (the
  // session token must not travel in the URL or a cookie), keepalive fetch can, and the
  // browser completes it after the page is gone (bodies up to 64 KiB; ours are tiny).
  function send(final){
    if (!enabled || !queue.length || Date.now() < pausedUntil || (inflight && !final)) return Promise.resolve(null);
    var batch = queue.splice(0, cfg.maxBatch);
    inflight = true;
    return AG.api(cfg.endpoint, {method: "POST", json: {signals: batch, final: !!final, guide: cfg.guide !== false}, keepalive: !!final})
      .then(function(r){
        inflight = false;
        if (r.status === 403) { enabled = false; queue = []; return null; }  // analytics consent is off
        if (r.status === 429) {
          pausedUntil = Date.now() + 1000 * (parseInt(r.headers.get("Retry-After"), 10) || 60);
          return null;  // refused whole and not stored: dropped, like anything over budget
        }
        if (r.status >= 500) { queue = batch.concat(queue).slice(0, 3 * cfg.maxBatch); return null; }
        return r.ok ? r.json() : null;
      })
      .then(function(body){ if (body && body.intervention) show(body.intervention); return body; })
      .catch(function(){ inflight = false; queue = batch.concat(queue).slice(0, 3 * cfg.maxBatch); return null; });
  }
  setInterval(function(){ send(false); }, cfg.batchMs);

  // -- idle: reported at idleMs of no input and every idleMs after, and when input comes back.
  var lastInput = Date.now(), idleReported = 0;
  function input(){
    var t = Date.now();
    if (idleReported) push({type: "idle", ms: t - lastInput}, true);
    lastInput = t; idleReported = 0;
  }
  ["pointerdown", "keydown", "wheel", "touchstart", "mousemove"].forEach(function(name){
    window.addEventListener(name, input, {passive: true});
  });
  setInterval(function(){
    var idle = Date.now() - lastInput;
    if (idle >= cfg.idleMs * (idleReported + 1)) { idleReported += 1; push({type: "idle", ms: idle}, true); }
  }, 1000);

  // -- time on an element (the [data-ag-item] most in view), and returning to one.
  var current = null, since = Date.now(), visited = {}, dwellReported = 0;
  function inView(){
    var best = null, bestArea = 0, h = window.innerHeight || 0;
    document.querySelectorAll("[data-ag-item]").forEach(function(el){
      var r = el.getBoundingClientRect();
      var area = Math.max(0, Math.min(r.bottom, h) - Math.max(r.top, 0)) * Math.max(1, r.width);
      if (area > bestArea) { bestArea = area; best = clean(el.getAttribute("data-ag-item")); }
    });
    return best;
  }
  function leave(){
    var ms = Date.now() - since;
    if (current && ms >= 2000) push({type: "dwell", target: current, ms: ms});
  }
  function look(){
    var now = inView();
    if (now === current) return;
    leave();
    if (now && visited[now]) push({type: "revisit", target: now});
    if (now) visited[now] = true;
    current = now; since = Date.now(); dwellReported = 0;
  }
  setInterval(function(){
    look();
    var ms = Date.now() - since;
    if (current && ms >= cfg.dwellMs * (dwellReported + 1)) { dwellReported += 1; push({type: "dwell", target: current, ms: ms}); }
  }, 1000);

  // -- scrolling: one signal per burst (distance and time).
  var burst = null, burstTimer = null;
  window.addEventListener("scroll", function(){
    var t = Date.now(), y = window.scrollY;
    if (!burst) burst = {y0: y, t0: t};
    burst.y = y; burst.t = t;
    clearTimeout(burstTimer);
    burstTimer = setTimeout(function(){
      var dy = Math.max(-1000000, Math.min(1000000, Math.round(burst.y - burst.y0)));
      if (Math.abs(dy) >= 200) push({type: "scroll", dy_px: dy, ms: Math.min(60000, burst.t - burst.t0)});
      burst = null;
      look();
    }, 250);
  }, {passive: true});

  // -- help requests: any control marked data-ag-help.
  document.addEventListener("click", function(e){
    var el = e.target && e.target.closest && e.target.closest("[data-ag-help]");
    if (!el) return;
    var kind = el.getAttribute("data-ag-help");
    if (["hint", "explanation", "example", "chat"].indexOf(kind) < 0) return;
    var item = el.closest("[data-ag-item]");
    push({type: "help_request", help: kind, target: clean(item ? item.getAttribute("data-ag-item") : el.id),
          words: parseInt(el.getAttribute("data-ag-hint-words"), 10) || 0}, true);
  });

  function leaving(){ leave(); since = Date.now(); send(true); }
  document.addEventListener("visibilitychange", function(){ if (document.visibilityState === "hidden") leaving(); });
  window.addEventListener("pagehide", leaving);

  // -- an offer of help: docked, announced politely, never taking focus; Tab reaches it,
  // Escape dismisses it; the reaction is reported.
  function el(tag, attrs, text){
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function(k){ e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }
  function ensureDock(){
    if (dock) return dock;
    dock = el("section", {id: "ag-help", "class": "card dock", "aria-labelledby": "ag-help-title",
                          "aria-live": "polite"});
    dock.hidden = true;
    dock.addEventListener("keydown", function(e){ if (e.key === "Escape") react("dismissed"); });
    (document.getElementById("main") || document.body).appendChild(dock);
    return dock;
  }
  var offer = null;
  function show(o){
    if (!o || !o.id || shown[o.id]) return;
    shown[o.id] = true;
    offer = o;
    var d = ensureDock();
    d.textContent = "";
    d.setAttribute("data-offer", o.id);
    d.setAttribute("data-kind", o.kind);
    d.appendChild(el("h2", {id: "ag-help-title"}, "A little help?"));
    d.appendChild(el("p", {id: "ag-help-message"}, o.message));
    d.appendChild(el("p", {id: "ag-help-why", "class": "muted"}, "Why: " + o.why));
    var row = el("p", {"class": "actions"});
    var yes = el("button", {type: "button", id: "ag-help-accept"}, o.action);
    var no = el("button", {type: "button", id: "ag-help-dismiss", "class": "secondary"}, "No thanks");
    yes.addEventListener("click", function(){ react("accepted"); });
    no.addEventListener("click", function(){ react("dismissed"); });
    row.appendChild(yes); row.appendChild(document.createTextNode(" ")); row.appendChild(no);
    d.appendChild(row);
    d.hidden = false;
  }
  function react(outcome){
    var o = offer;
    if (!o) return;
    offer = null;
    dock.querySelectorAll("button").forEach(function(b){ b.disabled = true; });
    AG.api(cfg.reactions + encodeURIComponent(o.id) + "/reaction", {method: "POST", json: {outcome: outcome}})
      .then(function(r){
        dock.textContent = "";
        dock.appendChild(el("p", {id: "ag-help-done", role: "status"},
          r.ok ? (outcome === "accepted" ? "Noted: help is on its way." : "Dismissed. We will not ask again for a while.")
               : "Your answer could not be saved; the offer will close."));
        document.dispatchEvent(new CustomEvent("atomicguide:offer", {detail: {offer: o, outcome: outcome, saved: r.ok}}));
        var main = document.getElementById("main");
        if (main && dock.contains(document.activeElement)) main.focus();
        setTimeout(function(){ dock.hidden = true; dock.textContent = ""; }, 6000);
      })
      .catch(function(){ dock.hidden = true; });
  }

  // flush() resolves with the answer to the batch it sent (null if none was sent).
  AG.struggle = {signal: push, flush: function(){ return send(false); }, show: show};
})();
"""

assets.add("struggle.js", STRUGGLE_JS, assets.JS_TYPE)

_REASON_LABELS = {
    "wheel_spinning": "many tries, no mastery", "misconception": "same mistake again", "repeated_error": "wrong in a row",
    "help_avoidance": "errors without asking for help", "help_abuse": "rushing through hints",
    "rapid_guessing": "guessing fast", "idle": "long idle", "long_dwell": "long on one part",
    "rapid_scrolling": "scrolling past content", "revisiting": "coming back to the same part",
    "low_confidence": "told the Guide they are confused", "help_request": "asking the Guide about one concept again",
}
_KIND_LABELS = {"hint": "Hint", "explanation": "Concept summary", "example": "Worked example",
                "chat_prompt": "Guide chat", "review_prompt": "Prerequisite review", "break_suggestion": "Break",
                "instructor_note": "Note to instructor"}


def learner_scripts() -> tuple[str, ...]:
    return (assets.path("struggle.js"),)


def learner_config(session: Session, profile: dict | None, rules=None, guide: bool = True) -> dict:
    """What the script reads: where to send, how often, and whether to collect at all
    (not without a learning session, nor with the learner's analytics consent off)."""
    from struggle.config import DEFAULTS

    rules = rules or DEFAULTS
    consent = privacy.consent((profile or {}).get("privacy_settings"))
    return {"struggle": {
        "collect": bool(session.learning_session_id) and consent["analytics"],
        "endpoint": "/api/signals", "reactions": "/api/interventions/", "guide": bool(guide),
        "batchMs": 10_000, "maxBatch": min(10, MAX_BATCH),
        # the page's own budget, below the server's exact limit (headroom for clock skew)
        "perMinute": max(1, rules.signals_per_minute - 10),
        "idleMs": 30_000, "dwellMs": 60_000,
    }}


def reason_label(code: str) -> str:
    return _REASON_LABELS.get(code, code)


def struggling_section(overview: dict | None, unavailable: bool = False) -> str:
    """The instructor home's "Struggling recently" section (from service.course_overview)."""
    head = '<section class="card" aria-labelledby="struggle-title"><h2 id="struggle-title">Struggling recently</h2>'
    if unavailable or overview is None:
        return (head + '<p class="warn" role="status" id="struggle-unavailable">Recent struggle cannot be read right '
                "now (database outage); try again in a few minutes.</p></section>")
    parts = [head, f'<p class="muted">The last {overview["days"]} days.</p>']
    learners = overview["learners"]
    if not learners:
        parts.append('<p id="struggle-none">No learner has been detected struggling.</p>')
    else:
        rows = "".join(
            "<tr>"
            f"<td>{esc(r['lti_user_id'])}</td>"
            f"<td>{esc(', '.join(reason_label(x['reason']) for x in r['reasons']))}</td>"
            f"<td>{esc(', '.join(c['concept_name'] or c['concept_id'] for c in r['concepts'])) or '—'}</td>"
            f"<td>{esc(r['last_struggle_at'][:16].replace('T', ' '))}</td>"
            f"<td>{'Yes' if r['asked_for_instructor'] else ''}</td></tr>" for r in learners[:50])
        parts.append('<div class="table-wrap"><table id="struggle-learners"><caption>Learners who struggled, latest '
                     'first</caption><thead><tr><th scope="col">Learner</th><th scope="col">Why</th>'
                     '<th scope="col">Concepts</th><th scope="col">Last (UTC)</th><th scope="col">Asked you for help'
                     f"</th></tr></thead><tbody>{rows}</tbody></table></div>")
    if overview["concepts"]:
        items = "".join(f"<li>{esc(c['concept_name'] or c['concept_id'])}: {c['learners']} learner(s), "
                        f"{c['struggle_events']} time(s)</li>" for c in overview["concepts"][:10])
        parts.append(f'<h3>Concepts most struggled with</h3><ul id="struggle-concepts">{items}</ul>')
    offered = [k for k in overview["interventions"] if k["offered"]]
    if offered:
        rows = "".join(f"<tr><td>{esc(_KIND_LABELS.get(k['kind'], k['kind']))}</td><td>{k['offered']}</td>"
                       f"<td>{k['accepted']}</td><td>{k['dismissed']}</td><td>{k['ignored']}</td></tr>" for k in offered)
        parts.append('<div class="table-wrap"><table id="struggle-help"><caption>Help offered and taken</caption>'
                     '<thead><tr><th scope="col">Kind</th><th scope="col">Offered</th><th scope="col">Accepted</th>'
                     '<th scope="col">Dismissed</th><th scope="col">Ignored</th></tr></thead>'
                     f"<tbody>{rows}</tbody></table></div>")
    if overview["hidden_by_consent"]:
        parts.append(f'<p class="muted" id="struggle-hidden">{overview["hidden_by_consent"]} learner(s) chose not to be '
                     "shown individually; they are not counted here.</p>")
    parts.append("</section>")
    return "".join(parts)
