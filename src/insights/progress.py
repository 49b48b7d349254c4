"""A learner's own progress, decided from plain rows (pure, stdlib only): time studied and
the day streak, and what mastering each concept would unlock next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

ANSWER_CAP_S = 600.0     # an answer counts at most 10 minutes (a tab left open is not study)
RECENT_DAYS = 7


def _day(iso: str) -> str:
    return iso[:10]


def _minus(day: str, n: int) -> str:
    return (datetime.fromisoformat(day).replace(tzinfo=UTC) - timedelta(days=n)).strftime("%Y-%m-%d")


def study_summary(answers: list[tuple[str, float]], session_starts: list[str], today: str) -> dict:
    """`answers`: (responded_at, response time in s); `session_starts`: launch times.
    Time studied is the answers' time (each capped); a study day is a UTC day with an
    answer or a launch; the streak counts study days in a row up to today (or up to
    yesterday, when today has none yet: the streak is not lost before the day is over)."""
    days = {_day(t) for t, _s in answers} | {_day(t) for t in session_starts}
    since = _minus(today, RECENT_DAYS - 1)
    total = sum(min(ANSWER_CAP_S, max(0.0, float(s))) for _t, s in answers)
    recent = sum(min(ANSWER_CAP_S, max(0.0, float(s))) for t, s in answers if _day(t) >= since)
    streak = 0
    day = today if today in days else _minus(today, 1)
    while day in days:
        streak += 1
        day = _minus(day, 1)
    longest, run, previous = 0, 0, None
    for d in sorted(days):
        run = run + 1 if previous is not None and _minus(d, 1) == previous else 1
        longest = max(longest, run)
        previous = d
    return {"minutes_total": round(total / 60, 1), "minutes_7d": round(recent / 60, 1), "answers": len(answers),
            "answers_7d": sum(1 for t, _s in answers if _day(t) >= since), "study_days": len(days),
            "streak_days": streak, "longest_streak_days": longest, "studied_today": today in days}


def unlocks(concepts: list[dict], mastered: set[str]) -> dict[str, list[str]]:
    """For each concept not mastered yet: the concepts that become ready once it is
    mastered (all their other prerequisites already are). `concepts`: {id, prerequisites}."""
    out: dict[str, list[str]] = {}
    for c in concepts:
        missing = [p for p in c.get("prerequisites", []) if p not in mastered]
        if len(missing) == 1 and c["id"] not in mastered:
            out.setdefault(missing[0], []).append(c["id"])
    return {k: sorted(v) for k, v in out.items()}
