"""The overview's tables as CSV rows: what each section shows, in full (every learner of
the heatmap, not one page), from the newest snapshot with the live consent of each learner
applied (a learner hidden or erased since the snapshot is left out)."""

from __future__ import annotations

from db.database import Database
from db.scope import TenantScope
from insights import roster, service, signals
from insights.snapshot import STATUS_NAMES

TABLES = ("heatmap", "concepts", "struggle", "flags", "help", "activities", "trend")


async def table(env, scope: TenantScope, context_id: str, name: str, now_ms: int) -> tuple[list[str], list[list]]:
    """(header, rows) of one table; raises KeyError for an unknown table name."""
    if name not in TABLES:
        raise KeyError(name)
    db = Database(env)
    summary = await service.latest_summary(db, scope, context_id)
    if summary is None:
        await service.compute_and_store(env, scope, context_id, now_ms)
        summary = await service.latest_summary(db, scope, context_id)
    concepts = summary["concepts"]
    names = {c["id"]: c["name"] for c in concepts}
    if name == "heatmap":
        rows = await service.all_learner_rows(db, scope, context_id, summary["day"])
        live = await service.profiles_of(db, scope, [r["id"] for r in rows])
        rows = [r for r in rows if r["id"] in live and live[r["id"]]["visible"]]
        people = await roster.names(db, scope, context_id, [r["u"] for r in rows])
        header = ["learner", "lti_user_id", "course_mastery_percent", "needs_attention", "flags_7d"]
        header += [f"{c['name']} ({c['id']})" for c in concepts]
        out = []
        for r in rows:
            line = [people.get(r["u"], ""), r["u"], r["s"], ";".join(r["a"]), r["f"]]
            for c in concepts:
                m, code, attempts = r["c"].get(c["id"], [None, "n", 0])
                line.append("" if code == "n" else f"{round(100 * m, 1)} {STATUS_NAMES[code]} ({attempts})")
            out.append(line)
        return header, out
    if name == "concepts":
        return (["concept_id", "concept", "prerequisites", "learners", "mean_mastery", "mastered", "fading", "learning",
                 "not_started", "wheel_spinning", "model_fitted", "model_auc", "model_rows"],
                [[c["id"], c["name"], ";".join(names.get(p, p) for p in c["prerequisites"]), c["learners"],
                  c["mean_mastery"], c["mastered"] + c["fading"], c["fading"], c["learning"], c["not_started"],
                  c["wheel_spinning"], c["fit"].get("fitted", False), c["fit"].get("auc"), c["fit"].get("rows")]
                 for c in concepts])
    if name == "struggle":
        return (["concept_id", "concept", "learners_flagged", "flags", "rules"],
                [[c["concept_id"], c["name"], c["learners"], c["events"],
                  ";".join(f"{signals.reason_label(k)}={v}" for k, v in c["reasons"].items())]
                 for c in summary["struggle"]["concepts"]])
    if name == "flags":
        flags = summary["flags"]
        live = await service.profiles_of(db, scope, [f["learner_id"] for f in flags])
        flags = [f for f in flags if f["learner_id"] in live and live[f["learner_id"]]["visible"]]
        people = await roster.names(db, scope, context_id, [live[f["learner_id"]]["lti_user_id"] for f in flags])
        out = []
        for f in flags:
            u = live[f["learner_id"]]["lti_user_id"]
            out.append([people.get(u, ""), u, f["at"], signals.reason_label(f["reason"]), f["reason"],
                        names.get(f.get("concept") or "", f.get("concept") or ""), f.get("score"),
                        ";".join(f"{k}={v}" for k, v in (f.get("evidence") or {}).items())])
        return ["learner", "lti_user_id", "at", "rule", "rule_code", "concept", "score", "evidence"], out
    if name == "help":
        return (["kind", "offered", "accepted", "dismissed", "ignored", "no_answer_yet"],
                [[signals.help_label(h["kind"]), h["offered"], h["accepted"], h["dismissed"], h["ignored"],
                  h["pending"]] for h in summary["help"]])
    if name == "activities":
        return (["activity", "learners", "completed", "mean_score", "threshold", "sent", "pending", "failed",
                 "not_sent"],
                [[a["title"], a["learners"], a["completed"], a["mean_score"], a["threshold"], a["sync"]["sent"],
                  a["sync"]["pending"], a["sync"]["failed"] if a.get("failed_recorded", True) else "",
                  a["sync"]["not_sent"]] for a in summary["activities"]])
    return (["day", "class_mastery", "mastered_share", "active_7d", "flags_7d"],
            [[p["day"], p.get("mean_mastery"), p.get("mastered_share"), p.get("active_7d"), p.get("flags_7d")]
             for p in summary["trend"]])
