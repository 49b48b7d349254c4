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
per-learner status their grade sync keeps (idle/pending/retrying/sent/failed/not_graded):
`_practice_activities` is the place to read it."""

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


async def _practice_activities(db: Database, scope: TenantScope, context_id: str, learner_ids: set[str]) -> list[dict]:
    """Practice activities of the course (none until they exist in the schema): one dict
    per activity shaped like `mastery_activity`'s, its `sync` counted from the learners'
    grade sync status (sent; pending or retrying -> pending; failed; idle/not_graded ->
    not_sent)."""
    return []
