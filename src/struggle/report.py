"""Summaries (pure): the behaviour summary a learning session row keeps
(`learning_sessions.behavioral_signals`, `interventions_delivered`), and the
instructor's view of a course (who struggled recently and why, the concepts most
struggled with, the help offered and taken, per kind)."""

from __future__ import annotations

from datetime import UTC, datetime

from struggle.interventions import KINDS

DELIVERED_KEPT = 50


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def session_summary(counters: dict[str, float], last: dict | None, offers: list[dict], last_activity_ms: int,
                    now_ms: int) -> dict:
    """What the session row says about behaviour: counts and totals, never raw signals."""
    c = {k: int(v) for k, v in counters.items()}
    outcomes = {o: sum(1 for x in offers if x.get("outcome") == o) for o in ("accepted", "dismissed", "ignored")}
    return {
        "signals_total": c.get("signals_total", 0),
        "signals": {k.split(".", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("signals.")},
        "idle_s": round(c.get("idle_ms", 0) / 1000, 1),
        "dwell_s": round(c.get("dwell_ms", 0) / 1000, 1),
        "fast_scrolls": c.get("fast_scrolls", 0),
        "help_requests": c.get("help_requests", 0),
        "answers": c.get("answers", 0),
        "wrong_answers": c.get("wrong_answers", 0),
        "rapid_guesses": c.get("rapid_guesses", 0),
        "struggle": {"score": (last or {}).get("score", 0.0), "state": (last or {}).get("state", "ok"),
                     "peak_score": round(c.get("peak_score_e4", 0) / 10_000, 4), "events": c.get("events", 0)},
        "interventions": {"offered": len(offers), **outcomes},
        "last_activity": iso(last_activity_ms) if last_activity_ms else None,
        "updated_at": iso(now_ms),
    }


def delivered(offers: list[dict]) -> list[dict]:
    """`interventions_delivered`: the latest offers of the session, oldest first."""
    return [{"id": o["id"], "kind": o["kind"], "reason": o["reason"], "offered_at": iso(o["offered_ms"]),
             "outcome": o.get("outcome")} for o in offers[-DELIVERED_KEPT:]]


def course_overview(events: list[dict], interventions: list[dict], learners: dict[str, str],
                    concept_names: dict[str, str]) -> dict:
    """`events`: {learner_id, concept, reason, score, at}; `interventions`: {learner_id,
    kind, outcome, at}; only rows of learners in `learners` (id -> LTI user id, those an
    instructor may see) count."""
    by_learner: dict[str, dict] = {}
    by_concept: dict[str, dict] = {}
    for e in events:
        lid = e["learner_id"]
        if lid not in learners:
            continue
        row = by_learner.setdefault(lid, {"events": 0, "last": "", "max": 0.0, "reasons": {}, "concepts": {}})
        row["events"] += 1
        row["last"] = max(row["last"], e["at"])
        row["max"] = max(row["max"], float(e["score"]))
        row["reasons"][e["reason"]] = row["reasons"].get(e["reason"], 0) + 1
        if e.get("concept"):
            row["concepts"][e["concept"]] = row["concepts"].get(e["concept"], 0) + 1
            c = by_concept.setdefault(e["concept"], {"events": 0, "learners": set()})
            c["events"] += 1
            c["learners"].add(lid)
    asked = {i["learner_id"] for i in interventions
             if i["learner_id"] in learners and i["kind"] == "instructor_note" and i.get("outcome") == "accepted"}
    kinds = {k: {"kind": k, "offered": 0, "accepted": 0, "dismissed": 0, "ignored": 0, "pending": 0} for k in KINDS}
    for i in interventions:
        if i["learner_id"] not in learners or i["kind"] not in kinds:
            continue
        k = kinds[i["kind"]]
        k["offered"] += 1
        k[i.get("outcome") if i.get("outcome") in ("accepted", "dismissed", "ignored") else "pending"] += 1

    def top(counts: dict[str, int], n: int = 3) -> list[tuple[str, int]]:
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    learner_rows = [{
        "learner_id": lid, "lti_user_id": learners[lid], "struggle_events": r["events"], "last_struggle_at": r["last"],
        "max_score": round(r["max"], 4),
        "reasons": [{"reason": k, "count": v} for k, v in top(r["reasons"])],
        "concepts": [{"concept_id": k, "concept_name": concept_names.get(k), "count": v} for k, v in top(r["concepts"])],
        "asked_for_instructor": lid in asked,
    } for lid, r in by_learner.items()]
    learner_rows.sort(key=lambda r: (r["last_struggle_at"], r["learner_id"]), reverse=True)
    concept_rows = [{"concept_id": k, "concept_name": concept_names.get(k), "struggle_events": v["events"],
                     "learners": len(v["learners"])} for k, v in by_concept.items()]
    concept_rows.sort(key=lambda r: (-r["learners"], -r["struggle_events"], r["concept_id"]))
    return {"learners": learner_rows, "concepts": concept_rows[:20],
            "interventions": [kinds[k] for k in KINDS]}
