"""Spaced repetition through FSRS: monotone in the grade, recall and half-life, the
SM-2 columns kept filled, and fading mastery."""

from datetime import UTC, datetime, timedelta

from fsrs import Rating
from hypothesis import given, settings
from hypothesis import strategies as st

from learner import memory as mem

T0 = datetime(2026, 1, 1, tzinfo=UTC)
grades = st.sampled_from([Rating.Again, Rating.Hard, Rating.Good, Rating.Easy])


def history(ratings, gap_days):
    m = mem.Memory()
    t = T0
    for r, gap in zip(ratings, gap_days):
        t = t + timedelta(days=gap)
        m = mem.review(m, r, t)
    return m, t


@settings(max_examples=200, deadline=None)
@given(st.lists(grades, max_size=8), st.lists(st.integers(0, 40), min_size=9, max_size=9))
def test_next_review_is_monotone_in_the_grade(past, gaps):
    # Given any review history, when the next review is graded higher, it is due no sooner.
    m, t = history(past, gaps)
    t = t + timedelta(days=gaps[-1])
    dues = [mem.review(m, r, t).due for r in (Rating.Again, Rating.Hard, Rating.Good, Rating.Easy)]
    assert dues == sorted(dues)


def test_the_same_reviews_give_the_same_dates():
    a, _ = history([Rating.Good, Rating.Again, Rating.Good], [0, 3, 1])
    b, _ = history([Rating.Good, Rating.Again, Rating.Good], [0, 3, 1])
    assert a == b  # fuzzing is off


def test_recall_falls_with_time_and_half_life_is_where_it_reaches_one_half():
    m, t = history([Rating.Good, Rating.Good], [0, 3])
    assert mem.recall_probability(m, t) == 1.0
    assert mem.recall_probability(m, t + timedelta(days=30)) < mem.recall_probability(m, t + timedelta(days=3))
    half = mem.half_life_days(m.stability)
    assert abs(mem.recall_probability(m, t + timedelta(days=round(half))) - 0.5) < 0.01
    assert mem.recall_probability(mem.Memory(), t) == 0.0
    assert mem.half_life_days(None) is None and mem.decay_rate(None) is None


def test_sm2_columns_follow_the_fsrs_schedule():
    m, _ = history([Rating.Good], [0])
    cols = mem.sm2_columns(m)
    assert cols["repetition_interval_days"] == (m.due - m.last_review).days >= 1
    assert 1.3 <= cols["easiness_factor"] <= 2.5
    hard, _ = history([Rating.Again, Rating.Again], [0, 1])
    assert mem.sm2_columns(hard)["easiness_factor"] < cols["easiness_factor"]
    assert mem.sm2_columns(mem.Memory()) == {"repetition_interval_days": 1, "easiness_factor": 2.5}


def test_a_mastered_concept_whose_recall_fades_is_due_and_shown_fading_not_lost():
    m, t = history([Rating.Good, Rating.Good], [0, 1])
    later = t + timedelta(days=400)
    recall = mem.recall_probability(m, later)
    assert recall < mem.FADING_BELOW
    assert mem.status(True, 5, recall) == "fading"
    assert mem.is_due(m, True, later)
    assert mem.status(True, 5, 0.99) == "mastered"
    assert mem.status(False, 5, 0.99) == "learning"
    assert mem.status(False, 0, 0.0) == "not_started"
    assert not mem.is_due(mem.Memory(), True, later)


def test_ratings_from_answers():
    assert mem.rating_for(0.0) == Rating.Again
    assert mem.rating_for(0.6) == Rating.Hard
    assert mem.rating_for(1.0, hints=1) == Rating.Hard
    assert mem.rating_for(1.0) == Rating.Good
    assert mem.rating_for(1.0, response_time_s=10, typical_time_s=60) == Rating.Easy


def test_timestamps_round_trip_with_milliseconds():
    when = mem.from_epoch_ms(1_767_225_600_123)
    assert mem.to_iso(when) == "2026-01-01T00:00:00.123Z"
    assert mem.from_iso(mem.to_iso(when)) == when
    assert mem.to_iso(None) is None and mem.from_iso(None) is None
