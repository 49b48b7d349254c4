"""HTML of the insight pages, built from what the service read (pure: no I/O). Every
section says what its figures count, over which window, and how sure the model is; every
chart has its text alternative and the table of its data; links come from `link(path,
**query)`, which keeps the session token on them."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from insights import charts, signals
from insights.charts import Axis, Bar, Cell
from insights.snapshot import STATUS_NAMES, WHEELSPIN_ATTEMPTS
from web.page import esc

Link = Callable[..., str]
STATUS_TEXT = {"not_started": "not started", "learning": "learning", "mastered": "mastered", "fading": "fading"}
CSV_TABLES = {
    "heatmap": "Mastery per learner and concept",
    "concepts": "Concepts",
    "struggle": "Where the class struggles",
    "flags": "Flagged recently",
    "help": "Help offered and taken",
    "activities": "Activities and grade sync",
    "trend": "Trend",
}


def course_path(context_id: str, *parts: str) -> str:
    return "/app/courses/" + "/".join(quote(p, safe="") for p in (context_id, *parts))


def when(iso: str | None) -> str:
    return "never" if not iso else f"{iso[:10]} {iso[11:16]} UTC"


def person(u: str, names: dict[str, str]) -> str:
    return names.get(u) or u


def _section(sid: str, title: str, body: str) -> str:
    return f'<section class="card" aria-labelledby="{sid}-title"><h2 id="{sid}-title">{esc(title)}</h2>{body}</section>'


def _explain(text: str) -> str:
    return f'<p class="explain">{text}</p>'


def _chart(chart_svg: str, label: str) -> str:
    # A focusable scroll region, so a wide chart can be scrolled by keyboard at phone width.
    return f'<div class="chart-wrap" role="region" aria-label="{esc(label)}" tabindex="0">{chart_svg}</div>'


def _data(table_html: str, label: str = "Show the data as a table") -> str:
    return f'<details><summary>{esc(label)}</summary><div class="table-wrap">{table_html}</div></details>'


def _csv(link: Link, context_id: str, table: str) -> str:
    return (f'<p><a class="csv" id="csv-{table}" href="{esc(link(course_path(context_id, "overview", table + ".csv")))}"'
            f' download>Download “{esc(CSV_TABLES[table])}” as CSV</a></p>')


def _fit_text(fit: dict) -> str:
    if not fit.get("fitted"):
        return "default parameters (not fitted to data yet): treat as a rough estimate"
    parts = [f"fitted on {fit['rows']:,} answers" if fit.get("rows") else "fitted"]
    if fit.get("auc") is not None:
        parts.append(f"held-out AUC {fit['auc']:.2f}")
    if fit.get("calibration_error") is not None:
        parts.append(f"calibration error {fit['calibration_error']:.3f}")
    return ", ".join(parts)


def _evidence(evidence: dict) -> str:
    if not evidence:
        return ""
    items = [f"{esc(str(k).replace('_', ' '))}: {esc(v if not isinstance(v, float) else round(v, 3))}"
             for k, v in list(evidence.items())[:6]]
    return f'<span class="evidence">{"; ".join(items)}</span>'


# -- the overview --------------------------------------------------------------------------

def overview(link: Link, context_id: str, course: str, ov, page: int, attention_only: bool) -> str:
    if ov.pending:
        return (f'<h1 id="overview-heading">Class overview</h1><p class="card warn" role="status" id="overview-pending">'
                f"This course is large, so its first overview is computed by tonight's job (03:00 UTC). Until "
                f"then, see each learner from the course's roster.</p>")
    s = ov.summary
    names = ov.names
    concepts = s["concepts"]
    learners = s["learners"]
    out = [f'<h1 id="overview-heading">Class overview: {esc(course)}</h1>',
           f'<p class="explain" id="as-of">Class figures as of the snapshot of <strong>{esc(when(s["computed_at"]))}'
           f"</strong> (computed every night at 03:00 UTC); the heatmap's cells and what was flagged since then are "
           f"live.</p>"]
    out.append(_notices(ov, learners))
    out.append(_tiles(s, ov))
    out.append(_heatmap_section(link, context_id, s, ov, page, attention_only))
    out.append(_struggle_section(link, context_id, s))
    out.append(_flags_section(link, context_id, s, ov))
    out.append(_help_section(link, context_id, s, ov))
    out.append(_activities_section(link, context_id, s))
    out.append(_trend_section(link, context_id, s))
    out.append(_concepts_section(link, context_id, concepts, s))
    return "".join(out)


def _notices(ov, learners: dict) -> str:
    notes = []
    r = ov.roster
    if r.get("error") and not r.get("fetched_at"):
        notes.append(f'<p class="card warn" role="status" id="roster-note">Names could not be read from the course '
                     f"roster ({esc(r['error'])}), so learners are shown by their LTI user id.</p>")
    elif r.get("error"):
        notes.append(f'<p class="card warn" role="status" id="roster-note">The roster could not be refreshed '
                     f"({esc(r['error'])}); names are from {esc(when(r['fetched_at']))}.</p>")
    if learners["hidden"]:
        rule = (f"they are included in the class figures, being at least {ov.summary['min_group']}"
                if learners["hidden_counted"] else
                f"fewer than {ov.summary['min_group']} chose this, so they are left out of the class figures too, "
                "which could otherwise reveal them")
        notes.append(f'<p class="muted" id="hidden-note">{learners["hidden"]} learner(s) chose not to be shown to '
                     f"instructors individually: they are not listed anywhere here; {rule}.</p>")
    return "".join(notes)


def _tiles(s: dict, ov) -> str:
    learners = s["learners"]
    today_flags = len(ov.delta["events"])
    help_rows = s["help"]
    offered = sum(h["offered"] for h in help_rows)
    accepted = sum(h["accepted"] for h in help_rows)
    tiles = [
        ("Learners", f"{learners['total']}", f"{learners['visible']} shown, {learners['hidden']} hidden by choice"),
        ("Active in 7 days", f"{learners['active_7d']}", "practised at least once"),
        ("Class mastery", charts.pct(learners["mean_score"]), "mean over the course's concepts"),
        ("Need attention", f"{learners['attention']}", "flagged in 7 days or wheel-spinning"),
        ("Flags in 7 days", f"{s['trend'][-1]['flags_7d'] if s['trend'] else 0}", f"+{today_flags} since the snapshot"),
        ("Help accepted", f"{accepted} of {offered}" if offered else "–", f"offers of help, last {s['windows']['history_days']} days"),
    ]
    items = "".join(f'<div><dt>{esc(t)}</dt><dd>{esc(v)}<small>{esc(n)}</small></dd></div>' for t, v, n in tiles)
    return f'<dl class="tiles" id="at-a-glance">{items}</dl>'


def _heatmap_section(link: Link, context_id: str, s: dict, ov, page: int, attention_only: bool) -> str:
    concepts = s["concepts"]
    names = ov.names
    cols = [Axis(c["id"], c["name"], link(course_path(context_id, "concepts", c["id"]))) for c in concepts]
    rows, cells = [], {}
    for r in ov.rows:
        label = person(r["u"], names)
        rows.append(Axis(r["id"], label, link(course_path(context_id, "learners", r["id"]))))
        for c in concepts:
            m, code, attempts = r["c"].get(c["id"], [None, "n", 0])
            status = STATUS_NAMES.get(code, "learning")
            note = f"{STATUS_TEXT[status]}, {attempts} attempt(s)"
            mark = "!" if status == "learning" and attempts >= WHEELSPIN_ATTEMPTS else ("↓" if status == "fading" else "")
            cells[(r["id"], c["id"])] = Cell(None if code == "n" else m, note, mark)
    pages = s["attention_pages"] if attention_only else s["pages"]
    shown = "learners who need attention" if attention_only else "all learners"
    desc = (f"Mastery of {len(rows)} learner(s) ({shown}, page {page} of {max(1, pages)}) on {len(cols)} concept(s) "
            "in prerequisite order; each cell shows the mastery in percent, '–' where the learner has not started.")
    svg = charts.heatmap("heatmap", "Mastery heatmap", desc, rows, cols, cells)
    table = charts.heatmap_table("heatmap-table", "Mastery per learner and concept (percent)", rows, cols, cells)
    filters = _filters(link, context_id, page, pages, attention_only)
    body = (_explain("Each cell is the learner model's probability that the learner has learned the concept "
                     "(Bayesian knowledge tracing over their answers), from 0% to 100%; 95% counts as mastered. "
                     "“!” marks wheel-spinning (10 or more attempts without mastery), “↓” a mastered concept whose "
                     "recall has fallen below 90% (due for review). Columns are in prerequisite order; learners who "
                     "need attention come first. Open a learner or a concept for detail.")
            + filters + (_chart(svg, "Mastery heatmap (scrolls sideways)") if rows else
                         '<p id="heatmap-empty">No learner to show with this filter.</p>')
            + _data(table) + _csv(link, context_id, "heatmap"))
    return _section("heatmap", "Mastery by learner and concept", body)


def _filters(link: Link, context_id: str, page: int, pages: int, attention_only: bool) -> str:
    from urllib.parse import parse_qs

    action = link(course_path(context_id, "overview"))
    base, _, query = action.partition("?")
    token = (parse_qs(query).get("ltik") or [""])[0]
    options = "".join(f'<option value="{v}"{" selected" if (v == "attention") == attention_only else ""}>{t}</option>'
                      for v, t in (("all", "All learners"), ("attention", "Only those who need attention")))
    pager = ""
    if pages > 1:
        pager = (f'<div><label for="page-select">Page</label><select id="page-select" name="page">'
                 + "".join(f'<option value="{n}"{" selected" if n == page else ""}>{n} of {pages}</option>'
                           for n in range(1, pages + 1)) + "</select></div>")
    return (f'<form class="filters" id="heatmap-filters" method="get" action="{esc(base)}">'
            f'<input type="hidden" name="ltik" value="{esc(token)}">'
            f'<div><label for="show-select">Show</label><select id="show-select" name="show">{options}</select></div>'
            f'{pager}<button type="submit" class="secondary">Apply</button></form>')


def _struggle_section(link: Link, context_id: str, s: dict) -> str:
    rows = s["struggle"]["concepts"]
    days = s["windows"]["history_days"]
    items = [Bar(r["name"], r["learners"], f"{r['learners']} learner(s), {r['events']} flag(s)",
                 link(course_path(context_id, "concepts", r["concept_id"])), charts.CATEGORY[5]) for r in rows[:8]]
    svg = charts.bars("struggle-chart", "Concepts the class struggles with most",
                      f"Learners flagged per concept over the last {days} days, most first.", items,
                      colour_by_value=False)
    table_rows = [[f'<a href="{esc(link(course_path(context_id, "concepts", r["concept_id"])))}">{esc(r["name"])}</a>',
                   str(r["learners"]), str(r["events"]),
                   esc(", ".join(f"{signals.reason_label(k)} ({v})" for k, v in r["reasons"].items()))] for r in rows]
    reasons = s["struggle"]["reasons"]
    reason_rows = [[esc(signals.reason_label(r["reason"])), esc(signals.reason_rule(r["reason"])), str(r["learners"]),
                    str(r["events"])] for r in reasons]
    body = (_explain(f"Struggle detection flags a learner when one of its rules fires (below, with what each rule "
                     f"looks for). Counted: distinct learners and flags per concept over the last {days} days, in "
                     "this course's sessions.")
            + _chart(svg, "Concepts the class struggles with")
            + _data(charts.data_table("struggle-table", f"Flags per concept, last {days} days",
                                      ["Concept", "Learners", "Flags", "Why (rule: flags)"], table_rows, raw=True))
            + '<h3>Why: the rules that fired</h3>'
            + (charts.data_table("reasons-table", f"Flags per rule, last {days} days",
                                 ["Rule", "What it looks for", "Learners", "Flags"], reason_rows, raw=True)
               if reason_rows else '<p class="muted">No flags in this window.</p>')
            + _csv(link, context_id, "struggle"))
    return _section("struggle", "Where the class struggles, and why", body)


def _flags_section(link: Link, context_id: str, s: dict, ov) -> str:
    names = ov.names
    concept_names = {c["id"]: c["name"] for c in s["concepts"]}
    live = [{**e, "live": True} for e in ov.delta["events"] if e.get("visible")]
    rows = []
    for e in live + s["flags"]:
        who = esc(person(e["u"], names))
        rows.append([f'<a href="{esc(link(course_path(context_id, "learners", e["learner_id"])))}">{who}</a>',
                     esc(when(e["at"])) + (" <span class=\"tag\">live</span>" if e.get("live") else ""),
                     f"<strong>{esc(signals.reason_label(e['reason']))}</strong><br>"
                     f'<span class="evidence">{esc(signals.reason_rule(e["reason"]))}</span>',
                     esc(concept_names.get(e.get("concept") or "", e.get("concept") or "–")),
                     esc(f"{e['score']:.2f}" if isinstance(e.get("score"), (int, float)) else "–"),
                     _evidence(e.get("evidence") or {})])
    note = "" if ov.delta.get("complete", True) else (
        '<p class="muted" id="delta-partial">Many flags since the snapshot across the institution: the live rows '
        "show the latest ones; tonight's snapshot counts them all.</p>")
    body = (_explain(f"Learners flagged in the last {s['windows']['flags_days']} days, newest first: the rule that "
                     "fired, the concept, the detector's score (0–1) and the evidence it recorded. Rows marked live "
                     "happened since the snapshot.")
            + note
            + (f'<div class="table-wrap">{charts.data_table("flags-table", "Flags, newest first", ["Learner", "When", "Rule that fired", "Concept", "Score", "Evidence"], rows, raw=True)}</div>'
               if rows else '<p id="flags-empty">Nobody was flagged in this window.</p>')
            + _csv(link, context_id, "flags"))
    return _section("flags", "Flagged recently", body)


def _help_section(link: Link, context_id: str, s: dict, ov) -> str:
    kinds = {h["kind"]: dict(h) for h in s["help"]}
    for i in ov.delta["interventions"]:
        k = kinds.setdefault(i["kind"], {"kind": i["kind"], "offered": 0, "accepted": 0, "dismissed": 0,
                                         "ignored": 0, "pending": 0})
        k["offered"] += 1
        k[i["outcome"] if i.get("outcome") in ("accepted", "dismissed", "ignored") else "pending"] += 1
    rows = sorted(kinds.values(), key=lambda k: (-k["offered"], k["kind"]))
    series = ["accepted", "dismissed", "ignored", "no answer yet"]
    svg = charts.stacked_bars("help-chart", "Help offered, by kind and outcome",
                              "For each kind of help: how many offers were accepted, dismissed, ignored or not yet "
                              "answered.", [(signals.help_label(k["kind"]), [k["accepted"], k["dismissed"], k["ignored"],
                                                                             k["pending"]]) for k in rows], series)
    table_rows = [[signals.help_label(k["kind"]), str(k["offered"]), str(k["accepted"]), str(k["dismissed"]),
                   str(k["ignored"]), str(k["pending"]),
                   charts.pct(k["accepted"] / k["offered"]) if k["offered"] else "–"] for k in rows]
    body = (_explain(f"Offers of help the tool made to learners of this course over the last "
                     f"{s['windows']['history_days']} days (plus those since the snapshot), by kind, and what the "
                     "learner did with each. Acceptance is the share of offers accepted: whether the help is taken, "
                     "not yet whether it worked.")
            + (_chart(svg, "Help offered and taken") if rows else '<p class="muted">No help was offered in this window.</p>')
            + _data(charts.data_table("help-table", "Offers of help by kind",
                                      ["Kind", "Offered", "Accepted", "Dismissed", "Ignored", "No answer yet",
                                       "Acceptance"], table_rows))
            + _csv(link, context_id, "help"))
    return _section("help", "Help offered and taken", body)


def _activities_section(link: Link, context_id: str, s: dict) -> str:
    rows = []
    for a in s["activities"]:
        sync = a["sync"]
        rows.append([a["title"], str(a["learners"]), f"{a['completed']} (≥ {a['threshold']:g}%)",
                     "–" if a["mean_score"] is None else f"{a['mean_score']:.1f}%",
                     str(sync["sent"]), str(sync["pending"]),
                     str(sync["failed"]) if a.get("failed_recorded", True) else "not recorded",
                     str(sync["not_sent"])])
    body = (_explain("Each graded activity with the mastery it reports to the gradebook and how those grades got "
                     "there: sent (the gradebook has a score), pending (a score is due and not sent yet), failed "
                     "(the platform refused it for good), not sent (below the threshold: nothing to send). "
                     "Completed: learners at or above the activity's mastery threshold. As of the snapshot.")
            + f'<div class="table-wrap">{charts.data_table("activities-table", "Activities and grade sync", ["Activity", "Learners", "Completed", "Mean score", "Sent", "Pending", "Failed", "Not sent"], rows)}</div>'
            + _csv(link, context_id, "activities"))
    return _section("activities", "Activities and grades", body)


def _trend_section(link: Link, context_id: str, s: dict) -> str:
    points = [(p["day"][5:], {"mean": p.get("mean_mastery"), "mastered": p.get("mastered_share")}) for p in s["trend"]]
    svg = charts.trend("trend-chart", "Class mastery over the last weeks",
                       f"Class mastery and share of concepts mastered per night over {len(points)} snapshot(s).",
                       points, [("mean", "Mastery"), ("mastered", "Mastered")])
    rows = [[p["day"], charts.pct(p.get("mean_mastery")), charts.pct(p.get("mastered_share")),
             str(p.get("active_7d", "")), str(p.get("flags_7d", ""))] for p in s["trend"]]
    body = (_explain(f"One point per nightly snapshot (up to {s['windows']['trend_days']} days): class mastery (the "
                     "mean over learners of their mean mastery of the course's concepts) and the share of learner × "
                     "concept pairs mastered.")
            + _chart(svg, "Trend")
            + _data(charts.data_table("trend-table", "Trend per snapshot",
                                      ["Day", "Class mastery", "Mastered", "Active in 7 days", "Flags in 7 days"], rows))
            + _csv(link, context_id, "trend"))
    return _section("trend", "Trend", body)


def _concepts_section(link: Link, context_id: str, concepts: list[dict], s: dict) -> str:
    names = {c["id"]: c["name"] for c in concepts}
    rows = []
    for c in concepts:
        prereq = ", ".join(names.get(p, p) for p in c["prerequisites"]) or "–"
        rows.append([f'<a href="{esc(link(course_path(context_id, "concepts", c["id"])))}">{esc(c["name"])}</a>',
                     esc(prereq), esc(charts.pct(c["mean_mastery"])), str(c["mastered"] + c["fading"]),
                     str(c["learning"]), str(c["not_started"]), str(c["wheel_spinning"]), esc(_fit_text(c["fit"]))])
    body = (_explain("Per concept, in prerequisite order, over the learners the class figures count: mean mastery "
                     "(a learner who has not started counts 0), how many mastered it (fading ones included), are "
                     "learning it, have not started, and are wheel-spinning. The last column says how sure the "
                     "model is: whether its parameters were fitted to answers and how well they predicted held-out "
                     "learners (AUC 0.5 is chance, 1 is perfect).")
            + f'<div class="table-wrap">{charts.data_table("concepts-table", "Concepts", ["Concept", "Prerequisites", "Mean mastery", "Mastered", "Learning", "Not started", "Wheel-spinning", "Model"], rows, raw=True)}</div>'
            + _csv(link, context_id, "concepts"))
    return _section("concepts", "Concepts", body)


# -- details ---------------------------------------------------------------------------------

def learner_detail(link: Link, context_id: str, name: str, u: str, mastery: dict, events: list[dict],
                   helps: list[dict], study: dict, concept_names: dict[str, str]) -> str:
    concepts = [c for c in mastery["concepts"] if c["in_course"]] or mastery["concepts"]
    bars = [Bar(c["name"], c["mastery"] if c["attempts"] else 0.0,
                (charts.pct(c["mastery"]) + f" · {STATUS_TEXT.get(c['status'], c['status'])}") if c["attempts"]
                else "not started", link(course_path(context_id, "concepts", c["concept_id"])))
            for c in concepts]
    svg = charts.bars("learner-chart", f"Mastery of {name}", f"Mastery per concept of {name}, in percent.", bars,
                      maximum=1.0)
    rows = [[c["name"], charts.pct(c["mastery"]) if c["attempts"] else "–", STATUS_TEXT.get(c["status"], c["status"]),
             str(c["attempts"]), charts.pct(c["recall_probability"]) if c["attempts"] else "–",
             (c["next_review"] or "–")[:10]] for c in concepts]
    flag_rows = [[esc(when(e["at"])), f"<strong>{esc(signals.reason_label(e['reason']))}</strong><br>"
                  f'<span class="evidence">{esc(signals.reason_rule(e["reason"]))}</span>',
                  esc(concept_names.get(e.get("concept") or "", e.get("concept") or "–")),
                  esc(f"{e['score']:.2f}"), _evidence(e["evidence"])] for e in events]
    help_rows = [[when(h["at"]), signals.help_label(h["kind"]), h.get("outcome") or "no answer yet"] for h in helps]
    back = f'<p><a id="back-to-overview" href="{esc(link(course_path(context_id, "overview")))}">← Class overview</a></p>'
    return (back + f'<h1 id="learner-heading">{esc(name)}</h1><p class="muted">LTI user id <code>{esc(u)}</code></p>'
            + _study_tiles(study, mastery["course_score"])
            + _section("learner-mastery", "Mastery per concept",
                       _explain("The learner model's probability that each concept is learned (95% = mastered), "
                                "and how likely it is recalled today (below 90%: due for review).")
                       + _chart(svg, "Mastery per concept")
                       + _data(charts.data_table("learner-table", "Mastery per concept",
                                                 ["Concept", "Mastery", "Status", "Attempts", "Recall today",
                                                  "Next review"], rows)))
            + _section("learner-flags", "Flags in the last 28 days",
                       (f'<div class="table-wrap">{charts.data_table("learner-flags-table", "Flags, newest first", ["When", "Rule that fired", "Concept", "Score", "Evidence"], flag_rows, raw=True)}</div>'
                        if flag_rows else "<p>Not flagged in this window.</p>"))
            + _section("learner-help", "Help offered in the last 28 days",
                       (f'<div class="table-wrap">{charts.data_table("learner-help-table", "Offers of help", ["When", "Kind", "Outcome"], help_rows)}</div>'
                        if help_rows else "<p>No help was offered in this window.</p>")))


def _study_tiles(study: dict, score: float | None) -> str:
    tiles = [("Course mastery", "–" if score is None else f"{score:.0f}%", "mean over the course's concepts"),
             ("Time studied", f"{study['minutes_7d']:.0f} min", f"last 7 days; {study['minutes_total']:.0f} min in 90 days"),
             ("Streak", f"{study['streak_days']} day(s)", f"longest {study['longest_streak_days']} in 90 days"),
             ("Answers", f"{study['answers_7d']}", f"last 7 days; {study['answers']} in 90 days")]
    items = "".join(f'<div><dt>{esc(t)}</dt><dd>{esc(v)}<small>{esc(n)}</small></dd></div>' for t, v, n in tiles)
    return (f'<dl class="tiles" id="study-tiles">{items}</dl>'
            + _explain("Time studied adds up the time spent on each answer (at most 10 minutes each); a study day "
                       "is a UTC day with an answer or a visit; the streak counts such days in a row up to today."))


def concept_detail(link: Link, context_id: str, c: dict, s: dict, lowest: list[tuple[str, str, float]],
                   dependents: list[dict], struggle: dict | None) -> str:
    names = {x["id"]: x["name"] for x in s["concepts"]}
    labels = ["0–20%", "20–40%", "40–60%", "60–80%", "80–100%"]
    bars = [Bar(label, n, f"{n} learner(s)", colour=charts.viridis((k + 0.5) / 5)) for k, (label, n)
            in enumerate(zip(labels, c["histogram"]))]
    svg = charts.bars("concept-histogram", f"Mastery of {c['name']} across the class",
                      f"How many learners who started {c['name']} are in each mastery band.", bars)
    prereq = ", ".join(f'<a href="{esc(link(course_path(context_id, "concepts", p)))}">{esc(names.get(p, p))}</a>'
                       for p in c["prerequisites"]) or "none"
    deps = ", ".join(f'<a href="{esc(link(course_path(context_id, "concepts", d["id"])))}">{esc(d["name"])}</a>'
                     for d in dependents) or "none"
    counts = [["Mastered (fading included)", str(c["mastered"] + c["fading"])], ["Fading (due for review)",
              str(c["fading"])], ["Learning", str(c["learning"])], ["Not started", str(c["not_started"])],
              ["Wheel-spinning", str(c["wheel_spinning"])], ["Mean mastery (not started = 0)",
              charts.pct(c["mean_mastery"])], ["Mean mastery of those who started", charts.pct(c["mean_mastery_started"])]]
    low = [[f'<a href="{esc(link(course_path(context_id, "learners", lid)))}">{esc(label)}</a>', esc(charts.pct(m))]
           for lid, label, m in lowest]
    reasons = ""
    if struggle:
        reasons = ("<p>Flagged on this concept in the last 28 days: "
                   + esc(", ".join(f"{signals.reason_label(k)} ({v})" for k, v in struggle["reasons"].items()))
                   + f" — {struggle['learners']} learner(s).</p>")
    fit = c["fit"]
    return (f'<p><a id="back-to-overview" href="{esc(link(course_path(context_id, "overview")))}">← Class overview</a></p>'
            f'<h1 id="concept-heading">{esc(c["name"])}</h1>'
            f"<p>Prerequisites: {prereq}. Needed for: {deps}.</p>"
            + _section("concept-distribution", "Mastery across the class",
                       _explain(f"Learners counted: {c['learners']} (as of the snapshot); {c['started']} have started.")
                       + _chart(svg, "Mastery bands") + _data(charts.data_table(
                           "concept-histogram-table", "Learners per mastery band", ["Band", "Learners"],
                           [[l, str(n)] for l, n in zip(labels, c["histogram"])]))
                       + charts.data_table("concept-counts", "Where the class is", ["", "Learners"], counts) + reasons)
            + _section("concept-model", "How sure the model is",
                       f'<p id="concept-fit">{esc(_fit_text(fit))}.</p>'
                       + _explain("Mastery comes from Bayesian knowledge tracing with this concept's parameters. "
                                  "Fitted parameters were estimated from answers (scripts/learner-model fit) and "
                                  "checked on learners held out of the fit; defaults are the seed's values."))
            + _section("concept-lowest", "Learners lowest on it",
                       (f'<div class="table-wrap">{charts.data_table("concept-lowest-table", "Lowest mastery among those learning it", ["Learner", "Mastery"], low, raw=True)}</div>'
                        if low else "<p>Nobody shown is still learning it.</p>")))


# -- my progress -----------------------------------------------------------------------------

def my_progress(mastery: dict, due: list[dict], study: dict, helps: list[dict], unlock: dict[str, list[str]],
                consent: dict, data_sharing: str, names: dict[str, str]) -> str:
    concepts = [c for c in mastery["concepts"] if c["in_course"]] or mastery["concepts"]
    bars = [Bar(c["name"], c["mastery"] if c["attempts"] else 0.0,
                (charts.pct(c["mastery"]) + f" · {STATUS_TEXT.get(c['status'], c['status'])}") if c["attempts"]
                else "not started") for c in concepts]
    svg = charts.bars("my-mastery-chart", "My mastery per concept",
                      "Your mastery of each concept of the course, in prerequisite order, in percent.", bars,
                      maximum=1.0)
    rows = []
    for c in concepts:
        if c["mastered"]:
            state = "mastered"
        elif c["ready"]:
            state = "ready to learn"
        else:
            state = "first: " + ", ".join(names.get(p, p) for p in c["missing_prerequisites"])
        opens = ", ".join(names.get(x, x) for x in unlock.get(c["concept_id"], [])) or "–"
        rows.append([c["name"], charts.pct(c["mastery"]) if c["attempts"] else "–",
                     STATUS_TEXT.get(c["status"], c["status"]), state, opens])
    next_up = [c for c in concepts if not c["mastered"] and c["ready"]]
    suggestion = ""
    if next_up:
        best = max(next_up, key=lambda c: (len(unlock.get(c["concept_id"], [])), c["mastery"]))
        opens = unlock.get(best["concept_id"], [])
        suggestion = (f'<p id="next-step"><strong>Next:</strong> {esc(best["name"])}'
                      + (f" — mastering it unlocks {esc(', '.join(names.get(x, x) for x in opens))}." if opens else ".")
                      + "</p>")
    due_rows = [[d["name"], charts.pct(d["recall_probability"]), (d["next_review"] or "–")[:10]] for d in due]
    help_accepted = [h for h in helps if h.get("outcome") == "accepted"]
    help_rows = [[when(h["at"]), signals.help_label(h["kind"])] for h in help_accepted]
    return ('<h1 id="progress-heading">My progress</h1>'
            + '<div data-erasable>'
            + _study_tiles(study, mastery["course_score"])
            + _section("my-mastery", "What I have mastered",
                       _explain("For each concept: how likely it is that you have learned it (95% counts as "
                                "mastered), from your answers. A concept is ready when you have mastered its "
                                "prerequisites; “unlocks” says what mastering it opens up.")
                       + suggestion + _chart(svg, "My mastery per concept")
                       + f'<div class="table-wrap">{charts.data_table("my-mastery-table", "My concepts", ["Concept", "Mastery", "Status", "Ready?", "Unlocks"], rows)}</div>')
            + _section("my-reviews", "Reviews due",
                       _explain("Concepts you have practised whose review date has come, or mastered ones you are "
                                "now less than 90% likely to recall: a short review keeps them.")
                       + (f'<div class="table-wrap">{charts.data_table("reviews-table", "Due for review", ["Concept", "Recall today", "Review date"], due_rows)}</div>'
                          if due_rows else '<p id="no-reviews">Nothing is due for review.</p>'))
            + _section("my-help", "Help I accepted",
                       _explain(f"Offers of help you accepted while studying: {len(help_accepted)} of {len(helps)} "
                                "offered in the last 28 days.")
                       + (f'<div class="table-wrap">{charts.data_table("help-accepted-table", "Help accepted", ["When", "Kind"], help_rows)}</div>'
                          if help_rows else "<p>None yet.</p>"))
            + _privacy_form(consent, data_sharing)
            + "</div>" + _data_rights())


CONSENT_TEXT = [
    ("instructor_visibility", "Instructors can see my progress individually",
     "Off: your instructors see you only inside class totals, and only when enough others chose the same."),
    ("analytics", "Notice when I am stuck (study behaviour)",
     "Off: no study behaviour is collected and no help is offered from it; your answers still count."),
    ("ai_chat", "AI Guide chat", "Off: the chat is not available to you."),
    ("research", "Research (de-identified)", "On: your data may be included, without your identity, in research."),
]


def _privacy_form(consent: dict, data_sharing: str) -> str:
    from privacy import CONSENT_DEFAULTS

    boxes = "".join(
        f'<label class="check" for="consent-{k}"><input type="checkbox" id="consent-{k}" name="{k}" '
        f'data-default="{"true" if CONSENT_DEFAULTS[k] else "false"}"{" checked" if consent.get(k) else ""}>'
        f"<span>{esc(title)}<small>{esc(help_)}</small></span></label>" for k, title, help_ in CONSENT_TEXT)
    sharing = "".join(f'<option value="{v}"{" selected" if v == data_sharing else ""}>{t}</option>'
                      for v, t in (("none", "Only me"), ("institution", "My institution"),
                                   ("anonymized_research", "My institution and de-identified research")))
    return _section("privacy", "Privacy settings",
                    '<form id="privacy-form"><fieldset><legend>What I agree to</legend>' + boxes + "</fieldset>"
                    f'<label for="data-sharing">Who my data is shared with</label><select id="data-sharing" '
                    f'name="data_sharing">{sharing}</select>'
                    '<div class="actions"><button type="submit">Save my choices</button></div>'
                    '<p id="privacy-status" role="status" aria-live="polite"></p></form>')


def _data_rights() -> str:
    return _section("my-data", "My data",
                    '<div data-erasable><p>Download everything the tool holds about you as a file, or erase it.</p>'
                    '<div class="actions"><button type="button" id="export-data" class="secondary">Download my data'
                    '</button><button type="button" id="erase-start" class="secondary danger">Delete my data…</button>'
                    '</div><p id="export-status" role="status" aria-live="polite"></p></div>'
                    '<div id="erase-confirm" class="card danger" hidden>'
                    '<h3 id="erase-confirm-title" tabindex="-1">Delete everything about you?</h3>'
                    "<p>This erases your profile, your mastery, your answers, your study sessions, your chats and "
                    "every other record the tool holds about you, at once and for good. Your grades already in the "
                    "gradebook stay there. It cannot be undone; download your data first if you want a copy.</p>"
                    '<label class="check" for="erase-understood"><input type="checkbox" id="erase-understood">'
                    "<span>I understand that this cannot be undone</span></label>"
                    '<div class="actions"><button type="button" id="erase-go" class="danger" disabled>Delete '
                    'everything</button><button type="button" id="erase-cancel" class="secondary">Keep my data'
                    '</button></div><p id="erase-status" role="status" aria-live="polite"></p></div>'
                    '<div id="erase-result" hidden><h3 id="erase-result-title" tabindex="-1">Your data was erased</h3>'
                    '<p><span id="erase-total">0</span> record(s) were deleted:</p><div class="table-wrap"><table '
                    'id="erase-table"><caption>Records deleted per table</caption><thead><tr><th scope="col">Table'
                    '</th><th scope="col">Records</th></tr></thead><tbody></tbody></table></div>'
                    "<p>Opening Atomic Guide again from your course starts a new, empty profile.</p></div>")
