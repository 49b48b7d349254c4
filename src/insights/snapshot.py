"""What a course snapshot holds, decided from plain rows (pure: no I/O, stdlib only). The
nightly job (insights/job.py) reads the rows, calls `build`, and stores the `course`
summary and the learner pages in analytics_snapshots; the overview reads them back.

Consent (src/privacy.py): a learner who turned `instructor_visibility` off is never
listed (pages keep them, flagged hidden, so a learner who turns it back on reappears; the
page filters by the live setting). Their data enters the class aggregates only when at
least `min_group` such learners are in the course: the visible learners are listed one by
one, so an aggregate over the class minus what is listed would otherwise reveal the few
hidden ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

FORMAT = "atomic-guide-insights/1"
PAGE_SIZE = 40                 # learners per page (what one overview view shows)
FLAG_WINDOW_DAYS = 7           # "flagged recently"
HISTORY_DAYS = 28              # struggle reasons and help offered
TREND_DAYS = 56                # eight weeks of daily points
WHEELSPIN_ATTEMPTS = 10        # Beck & Gong: 10 attempts without mastery
FLAGS_KEPT = 60
LOWEST_KEPT = 10
BINS = (0.2, 0.4, 0.6, 0.8)    # mastery histogram edges: 0-20, 20-40, 40-60, 60-80, 80-100 %
STATUS_CODES = {"not_started": "n", "learning": "l", "mastered": "m", "fading": "f"}
STATUS_NAMES = {v: k for k, v in STATUS_CODES.items()}
DEFAULT_MIN_GROUP = 5


@dataclass(frozen=True)
class CellState:
    """One learner's state on one concept, as the learner model reads it now."""

    mastery: float
    attempts: int
    status: str            # not_started | learning | mastered | fading
    last_practised: str | None = None


@dataclass
class CourseRows:
    """Everything `build` needs, read by the service."""

    context_id: str
    day: str
    computed_at: str
    concepts: list[dict]                           # {id, name, prerequisites} of the course
    params: dict[str, dict] = field(default_factory=dict)   # concept_parameters rows by id
    learners: list[dict] = field(default_factory=list)      # {id, lti_user_id, visible}
    cells: dict[str, dict[str, CellState]] = field(default_factory=dict)  # learner -> concept -> state
    events: list[dict] = field(default_factory=list)        # signals.event rows (HISTORY_DAYS)
    interventions: list[dict] = field(default_factory=list)  # signals.intervention rows (HISTORY_DAYS)
    activities: list[dict] = field(default_factory=list)    # activities.course_activities()
    names: dict[str, str] = field(default_factory=dict)     # lti_user_id -> roster name
    previous_trend: list[dict] = field(default_factory=list)
    threshold: float = 80.0
    min_group: int = DEFAULT_MIN_GROUP


def prerequisite_order(concepts: list[dict]) -> list[dict]:
    """Concepts with every prerequisite (within the set) before them, ties by name; each
    gains `depth` (longest prerequisite chain below it). A cycle (refused at import, so
    never expected) is broken by name order rather than dropping concepts."""
    by_id = {c["id"]: c for c in concepts}
    prereqs = {c["id"]: [p for p in c.get("prerequisites", []) if p in by_id and p != c["id"]] for c in concepts}
    depth: dict[str, int] = {}
    order: list[dict] = []
    remaining = dict(prereqs)
    while remaining:
        ready = sorted((cid for cid, ps in remaining.items() if all(p in depth for p in ps)),
                       key=lambda cid: (by_id[cid]["name"].lower(), cid))
        if not ready:  # a cycle: take the first by name
            ready = [sorted(remaining, key=lambda cid: (by_id[cid]["name"].lower(), cid))[0]]
        for cid in ready:
            depth[cid] = 1 + max((depth[p] for p in remaining[cid] if p in depth), default=-1)
            order.append({**by_id[cid], "depth": depth[cid]})
            del remaining[cid]
    return sorted(order, key=lambda c: (c["depth"], c["name"].lower(), c["id"]))


def include_hidden(hidden: int, min_group: int) -> bool:
    return hidden >= max(1, min_group)


def day_of(iso: str) -> str:
    return iso[:10]


def _days_before(day: str, n: int) -> str:
    return (datetime.fromisoformat(day).replace(tzinfo=UTC) - timedelta(days=n)).strftime("%Y-%m-%d")


def _bin(m: float) -> int:
    return sum(1 for edge in BINS if m >= edge)


def _fit_figures(param: dict | None) -> dict:
    """What the page says about how sure the model is of a concept: fitted or defaults,
    how much data the fit had, and its held-out figures."""
    if not param:
        return {"fitted": False}
    fit = param.get("fit") or {}
    held = fit.get("held_out") or {}
    out = {"fitted": bool(param.get("fitted")), "rows": fit.get("rows"), "learners": fit.get("learners")}
    for k in ("auc", "accuracy", "rmse", "calibration_error"):
        if isinstance(held.get(k), (int, float)):
            out[k] = round(float(held[k]), 4)
    if isinstance(held.get("rows"), int):
        out["held_out_rows"] = held["rows"]
    return out


def learner_row(learner: dict, concept_ids: list[str], cells: dict[str, CellState], flags: list[dict],
                threshold: float) -> dict:
    """A learner's row of the pages: cells, course score, what calls for attention."""
    row_cells = {}
    mastery = 0.0
    wheel = 0
    last = None
    for cid in concept_ids:
        s = cells.get(cid)
        if s is None or s.attempts == 0:
            row_cells[cid] = [None, "n", 0]
            continue
        row_cells[cid] = [round(s.mastery, 4), STATUS_CODES.get(s.status, "l"), s.attempts]
        mastery += s.mastery
        if s.attempts >= WHEELSPIN_ATTEMPTS and s.status == "learning":
            wheel += 1
        if s.last_practised and (last is None or s.last_practised > last):
            last = s.last_practised
    score = round(100 * mastery / len(concept_ids), 2) if concept_ids else 0.0
    attention = []
    if flags:
        attention.append("flagged")
    if wheel:
        attention.append("wheel_spinning")
    top = _top_reason(flags)
    return {"id": learner["id"], "u": learner["lti_user_id"], "h": not learner["visible"], "s": score,
            "f": len(flags), "r": top, "w": wheel, "a": attention, "lp": last, "c": row_cells,
            "below": score < threshold}


def _top_reason(flags: list[dict]) -> str | None:
    counts: dict[str, int] = {}
    for f in flags:
        counts[f["reason"]] = counts.get(f["reason"], 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if counts else None


def order_rows(rows: list[dict], names: dict[str, str]) -> list[dict]:
    """Who the overview lists first: the visible learners who need attention (most flags,
    then most wheel-spinning), then the others by name; hidden learners last."""
    def key(r):
        name = (names.get(r["u"]) or r["u"]).lower()
        return (r["h"], not r["a"], -r["f"], -r["w"], name, r["id"])
    return sorted(rows, key=key)


def build(rows: CourseRows) -> tuple[dict, list[list[dict]]]:
    """(course summary, learner pages) for one course."""
    concepts = prerequisite_order(rows.concepts)
    ids = [c["id"] for c in concepts]
    visible = [l for l in rows.learners if l["visible"]]
    hidden = [l for l in rows.learners if not l["visible"]]
    counted_hidden = include_hidden(len(hidden), rows.min_group)
    counted = visible + (hidden if counted_hidden else [])
    counted_ids = {l["id"] for l in counted}
    visible_ids = {l["id"] for l in visible}
    users = {l["id"]: l["lti_user_id"] for l in rows.learners}
    flag_since = _days_before(rows.day, FLAG_WINDOW_DAYS - 1)
    history_since = _days_before(rows.day, HISTORY_DAYS - 1)

    flags_by_learner: dict[str, list[dict]] = {}
    for e in rows.events:
        if day_of(e["at"]) >= flag_since:
            flags_by_learner.setdefault(e["learner_id"], []).append(e)

    learner_rows = [learner_row(l, ids, rows.cells.get(l["id"], {}), flags_by_learner.get(l["id"], []),
                                rows.threshold) for l in rows.learners]
    ordered = order_rows(learner_rows, rows.names)
    pages = [ordered[i:i + PAGE_SIZE] for i in range(0, len(ordered), PAGE_SIZE)]

    concept_views = []
    for c in concepts:
        cid = c["id"]
        hist = [0] * (len(BINS) + 1)
        counts = {"not_started": 0, "learning": 0, "mastered": 0, "fading": 0}
        total = 0.0
        started_sum, started = 0.0, 0
        wheel = 0
        lowest = []
        for l in counted:
            s = rows.cells.get(l["id"], {}).get(cid)
            if s is None or s.attempts == 0:
                counts["not_started"] += 1
                continue
            counts[s.status if s.status in counts else "learning"] += 1
            total += s.mastery
            started_sum += s.mastery
            started += 1
            hist[_bin(s.mastery)] += 1
            if s.attempts >= WHEELSPIN_ATTEMPTS and s.status == "learning":
                wheel += 1
            if l["id"] in visible_ids and s.status in ("learning", "fading"):
                lowest.append((s.mastery, l["id"]))
        lowest.sort()
        n = len(counted)
        concept_views.append({
            "id": cid, "name": c["name"], "prerequisites": [p for p in c.get("prerequisites", []) if p in ids],
            "depth": c["depth"], "learners": n, "started": started,
            "mean_mastery": round(total / n, 4) if n else None,
            "mean_mastery_started": round(started_sum / started, 4) if started else None,
            **counts, "wheel_spinning": wheel, "histogram": hist,
            "lowest": [lid for _m, lid in lowest[:LOWEST_KEPT]],
            "fit": _fit_figures(rows.params.get(cid)),
        })

    # Struggle and help over the history window, counted learners only (consent rule).
    by_reason: dict[str, dict] = {}
    by_concept: dict[str, dict] = {}
    daily: dict[str, int] = {}
    for e in rows.events:
        if e["learner_id"] not in counted_ids or day_of(e["at"]) < history_since:
            continue
        r = by_reason.setdefault(e["reason"], {"reason": e["reason"], "events": 0, "learners": set()})
        r["events"] += 1
        r["learners"].add(e["learner_id"])
        if e.get("concept"):
            c = by_concept.setdefault(e["concept"], {"concept_id": e["concept"], "events": 0, "learners": set(),
                                                     "reasons": {}})
            c["events"] += 1
            c["learners"].add(e["learner_id"])
            c["reasons"][e["reason"]] = c["reasons"].get(e["reason"], 0) + 1
        daily[day_of(e["at"])] = daily.get(day_of(e["at"]), 0) + 1
    names = {c["id"]: c["name"] for c in concepts}
    reasons = sorted(({**r, "learners": len(r["learners"])} for r in by_reason.values()),
                     key=lambda r: (-r["learners"], -r["events"], r["reason"]))
    struggled = sorted(({**c, "learners": len(c["learners"]), "name": names.get(c["concept_id"], c["concept_id"]),
                         "reasons": dict(sorted(c["reasons"].items(), key=lambda kv: (-kv[1], kv[0])))}
                        for c in by_concept.values()),
                       key=lambda c: (-c["learners"], -c["events"], c["concept_id"]))

    flags = sorted((e for e in rows.events if e["learner_id"] in visible_ids and day_of(e["at"]) >= flag_since),
                   key=lambda e: e["at"], reverse=True)[:FLAGS_KEPT]
    help_kinds: dict[str, dict] = {}
    for i in rows.interventions:
        if i["learner_id"] not in counted_ids or day_of(i["at"]) < history_since:
            continue
        k = help_kinds.setdefault(i["kind"], {"kind": i["kind"], "offered": 0, "accepted": 0, "dismissed": 0,
                                              "ignored": 0, "pending": 0})
        k["offered"] += 1
        outcome = i.get("outcome")
        k[outcome if outcome in ("accepted", "dismissed", "ignored") else "pending"] += 1

    score_sum = sum(r["s"] for r in learner_rows if r["id"] in counted_ids)
    mastered_cells = sum(1 for r in learner_rows if r["id"] in counted_ids
                         for v in r["c"].values() if v[1] in ("m", "f"))
    active_since = flag_since
    active = sum(1 for r in learner_rows if r["id"] in counted_ids and r["lp"] and day_of(r["lp"]) >= active_since)
    n = len(counted)
    point = {"day": rows.day,
             "mean_mastery": round(score_sum / n / 100, 4) if n else None,
             "mastered_share": round(mastered_cells / (n * len(ids)), 4) if n and ids else None,
             "active_7d": active, "flags_7d": sum(1 for e in rows.events if e["learner_id"] in counted_ids
                                                  and day_of(e["at"]) >= flag_since)}
    trend = [p for p in rows.previous_trend if p.get("day", "") < rows.day and p["day"] >= _days_before(
        rows.day, TREND_DAYS - 1)] + [point]

    summary = {
        "format": FORMAT, "course_context": rows.context_id, "day": rows.day, "computed_at": rows.computed_at,
        "threshold": rows.threshold, "min_group": rows.min_group,
        "windows": {"flags_days": FLAG_WINDOW_DAYS, "history_days": HISTORY_DAYS, "trend_days": TREND_DAYS},
        "learners": {"total": len(rows.learners), "visible": len(visible), "hidden": len(hidden),
                     "hidden_counted": counted_hidden, "counted": n, "active_7d": active,
                     "attention": sum(1 for r in learner_rows if r["a"] and not r["h"]),
                     "mean_score": point["mean_mastery"]},
        "page_size": PAGE_SIZE, "pages": len(pages),
        "attention_pages": -(-sum(1 for r in learner_rows if r["a"] and not r["h"]) // PAGE_SIZE),
        "concepts": concept_views,
        "struggle": {"reasons": reasons, "concepts": struggled[:12], "daily": dict(sorted(daily.items()))},
        "flags": [{"learner_id": e["learner_id"], "u": users.get(e["learner_id"]), "at": e["at"], "reason": e["reason"], "concept": e.get("concept"),
                   "score": e.get("score"), "evidence": e.get("evidence") or {}} for e in flags],
        "help": sorted(help_kinds.values(), key=lambda k: (-k["offered"], k["kind"])),
        "activities": rows.activities,
        "trend": trend,
    }
    return summary, pages
