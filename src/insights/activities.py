"""Activities of a course and how their grades reached the gradebook, for the overview's
"activities" table (one small function, so practice activities can extend it).

Today the course has one graded activity: the course mastery column (AGS line item tagged
`atomic-guide-mastery`), whose per-learner record is `student_progress`
(`average_mastery`, and `passed_back_score`/`passed_back_at` once a score was sent).
A learner's grade sync status there is: `sent` (a score was passed back), `pending` (the
score reached the threshold and nothing was sent yet: a passback failed or is still to
come), `not_sent` (below the threshold: nothing to send). `failed` is not recorded for
this column (a failed passback leaves it pending).

Practice activities add one entry per `assessment_configs` row of the course, with the
per-learner status their grade sync keeps (idle/pending/retrying/sent/failed/not_graded),
read from `activity_progress` by `_practice_activities`."""

from __future__ import annotations

from db.database import Database
from db.scope import TenantScope

MASTERY_ACTIVITY = "course-mastery"
SYNC_STATES = ("sent", "pending", "failed", "not_sent")


def _empty_sync() -> dict[str, int]:
    return {s: 0 for s in SYNC_STATES}


def mastery_activity(rows: list[dict], threshold: float) -> dict:
    """The course mastery column from `student_progress` rows (pure)."""
    sync = _empty_sync()
    scores = []
    completed = 0
    for r in rows:
        score = float(r.get("average_mastery") or 0.0)
        scores.append(score)
        reached = score >= threshold
        completed += reached
        if r.get("passed_back_at"):
            sync["sent"] += 1
        elif reached:
            sync["pending"] += 1
        else:
            sync["not_sent"] += 1
    return {"id": MASTERY_ACTIVITY, "title": "Course mastery (gradebook column)", "kind": "mastery",
            "learners": len(rows), "completed": completed,
            "mean_score": round(sum(scores) / len(scores), 2) if scores else None,
            "threshold": threshold, "sync": sync, "failed_recorded": False}


async def course_activities(db: Database, scope: TenantScope, context_id: str, threshold: float,
                            learner_ids: set[str]) -> list[dict]:
    """Every activity of the course with completion, mean score and grade sync counts,
    over `learner_ids` only (the learners the class aggregates may count)."""
    rows = await db.all(scope.select("student_progress", {"course_context": context_id},
                                     columns=["learner_id", "average_mastery", "passed_back_score", "passed_back_at"],
                                     name="insights.course_progress"))
    counted = [r for r in rows if r["learner_id"] in learner_ids]
    return [mastery_activity(counted, threshold), *await _practice_activities(db, scope, context_id, learner_ids)]


def practice_activity(config: dict, rows: list[dict]) -> dict:
    """One practice activity (an `assessment_configs` row) from its learners'
    `activity_progress` rows (pure): completed = mastered, mean of the activity's scores
    (0-100), and the grade sync status each row keeps (pending and retrying count as
    pending; idle and not_graded as not sent; failed is recorded here)."""
    sync = _empty_sync()
    scores = []
    completed = 0
    for r in rows:
        scores.append(float(r.get("score") or 0.0))
        completed += bool(r.get("mastered"))
        status = r.get("sync_status")
        key = status if status in ("sent", "failed") else "pending" if status in ("pending", "retrying") \
            else "not_sent"
        sync[key] += 1
    return {"id": config["id"], "title": config.get("title") or "Practice",
            "kind": config.get("assessment_type") or "practice", "learners": len(rows), "completed": completed,
            "mean_score": round(sum(scores) / len(scores), 2) if scores else None,
            "threshold": float(config.get("mastery_threshold") or 0.0), "sync": sync, "failed_recorded": True}


IN_CHUNK = 90  # ids per IN (...): well under D1's 100 bound parameters


async def _practice_activities(db: Database, scope: TenantScope, context_id: str, learner_ids: set[str]) -> list[dict]:
    """The course's practice activities (flashcards, fill in the blank, Guide
    conversations), oldest first, over `learner_ids` only."""
    configs = await db.all(scope.select("assessment_configs", {"course_context": context_id},
                                        columns=["id", "title", "assessment_type", "mastery_threshold"],
                                        order_by="created_at", limit=500, name="insights.course_activities"))
    if not configs:
        return []
    ids = [c["id"] for c in configs]
    progress: dict[str, list[dict]] = {i: [] for i in ids}
    for start in range(0, len(ids), IN_CHUNK):
        rows = await db.all(scope.select(
            "activity_progress", {"activity_id__in": ids[start:start + IN_CHUNK]},
            columns=["activity_id", "learner_id", "score", "mastered", "sync_status"],
            name="insights.activity_progress"))
        for r in rows:
            if r["learner_id"] in learner_ids:
                progress[r["activity_id"]].append(r)
    return [practice_activity(c, progress[c["id"]]) for c in configs]
