"""Configuration, intake and the intervention policy (pure): overrides validated per key,
the exact per-minute limit, the remedy for each dominant reason, cool-downs, the daily
cap, the weakest prerequisite first, escalation, and the summaries."""

from dataclasses import replace

import pytest

from struggle import config
from struggle.config import DEFAULTS as R
from struggle.intake import admit, implausible_times
from struggle.interventions import (KINDS, REMEDIES, Choice, NoOffer, Offer, Prerequisite, choose, expired, utc_day,
                                    weakest_prerequisite, why)
from struggle.report import course_overview, delivered, session_summary
from struggle.rules import REASONS, Assessment, Reason

NOW = 1_800_000_000_000
MIN = 60_000


# -- configuration --------------------------------------------------------------------------

def test_overrides_replace_defaults_and_keep_the_rest():
    rules = config.from_overrides({"repeated_errors": 4, "struggle_threshold": 0.7, "cooldown_s": 600.0})
    assert (rules.repeated_errors, rules.struggle_threshold, rules.cooldown_s) == (4, 0.7, 600)
    assert rules.wheel_spin_attempts == R.wheel_spin_attempts
    assert config.from_overrides(None) is R and config.from_overrides({}) is R


def test_every_bad_override_is_named():
    with pytest.raises(config.RulesError) as caught:
        config.from_overrides({"nope": 1, "repeated_errors": 2.5, "daily_cap": True, "struggle_threshold": 2,
                               "cooldown_s": "300"})
    assert sorted(p.split(":")[0] for p in caught.value.problems) == [
        "cooldown_s", "daily_cap", "nope", "repeated_errors", "struggle_threshold"]
    with pytest.raises(config.RulesError, match="idle_tier1_s must be below idle_tier2_s"):
        config.from_overrides({"idle_tier1_s": 180})
    with pytest.raises(config.RulesError, match="rapid_guess_min cannot exceed"):
        config.from_overrides({"rapid_guess_min": 6})
    with pytest.raises(config.RulesError):
        config.from_overrides(["repeated_errors"])


def test_bounds_hold_at_both_ends():
    assert config.from_overrides({"signals_per_minute": 1}).signals_per_minute == 1
    assert config.from_overrides({"signals_per_minute": 100_000}).signals_per_minute == 100_000
    for bad in (0, 100_001):
        with pytest.raises(config.RulesError):
            config.from_overrides({"signals_per_minute": bad})


def test_stored_overrides_are_applied_leniently():
    rules, problems = config.lenient({"repeated_errors": 5, "nope": 1})
    assert rules.repeated_errors == 5 and problems == ["nope: unknown rule"]
    rules, problems = config.lenient({"idle_tier1_s": 500})  # valid alone, inconsistent together
    assert rules == R and problems
    assert config.lenient(None) == (R, [])


# -- intake -----------------------------------------------------------------------------------

def test_sixty_signals_a_minute_are_admitted_and_the_sixty_first_waits_for_the_window():
    assert admit([], 60, NOW, 60) == (True, 0)
    assert admit([(NOW, 60)], 1, NOW, 60) == (False, 60)
    assert admit([(NOW - 59_999, 60)], 1, NOW, 60) == (False, 1)
    assert admit([(NOW - 60_000, 60)], 1, NOW, 60) == (True, 0)  # a minute later it has left the window


def test_retry_after_is_when_enough_of_the_window_has_expired():
    intake = [(NOW - 45_000, 30), (NOW - 15_000, 30)]
    assert admit(intake, 10, NOW, 60) == (False, 15)   # the first 30 leave in 15 s
    assert admit(intake, 31, NOW, 60) == (False, 45)   # 31 more need both batches gone
    assert admit([], 61, NOW, 60) == (False, 60)        # larger than the limit: never


def test_signal_times_must_be_near_the_servers_clock():
    assert implausible_times([NOW - 15 * MIN, NOW + 2 * MIN, NOW], NOW) == []
    assert implausible_times([NOW - 15 * MIN - 1, NOW, NOW + 2 * MIN + 1], NOW) == [0, 2]


# -- the intervention policy ------------------------------------------------------------------

def struggling(code: str, strength: float = 0.9, concept: str | None = "c1", **evidence) -> Assessment:
    return Assessment(strength, "struggling", (Reason(code, strength, evidence, concept),), concept)


def offer(kind: str, ago_ms: int, outcome: str | None = "dismissed", concept: str | None = "c1",
          reason: str = "repeated_error") -> Offer:
    return Offer(kind, reason, concept, NOW - ago_ms, outcome)


@pytest.mark.parametrize("code", REASONS)
def test_each_reason_has_a_remedy_and_a_reason_in_words(code):
    evidence = {"attempts": 10, "needed_streak": 3, "times": 2, "errors_in_a_row": 3, "errors_without_help": 4,
                "rapid_guesses": 3, "of_last": 5, "idle_s": 200.0, "tier": 2, "dwell_s": 59.0, "revisits": 3,
                "expressions": 2, "questions": 3, "concept": "Factoring"}
    choice = choose(struggling(code, **evidence), [], NOW, R, offers_today=0)
    assert isinstance(choice, Choice) and choice.kind == REMEDIES[code][0] and choice.kind in KINDS
    assert choice.why == why(choice.reason) and choice.why.endswith(".")
    assert choice.message and choice.action and choice.features["dominant"] == code


def test_no_guide_where_the_learner_is_means_no_offer_to_ask_it():
    # rapid guessing's first remedy is the Guide; a page without it gets the next remedy
    with_guide = choose(struggling("rapid_guessing", rapid_guesses=3, of_last=5), [], NOW, R, offers_today=0)
    without = choose(struggling("rapid_guessing", rapid_guesses=3, of_last=5), [], NOW, R, offers_today=0,
                     guide_available=False)
    assert with_guide.kind == "chat_prompt" and without.kind == "break_suggestion"
    # and when the Guide was the only remedy left, there is no offer rather than a dead one
    cooling = [offer("break_suggestion", 1000, reason="rapid_guessing")]
    assert isinstance(choose(struggling("rapid_guessing", rapid_guesses=3, of_last=5), cooling, NOW + 61_000, R,
                             offers_today=0, guide_available=False), NoOffer)


def test_what_the_learner_told_the_guide_is_said_back_in_their_words():
    assert why(Reason("low_confidence", 0.5, {"expressions": 1})) == "You told the Guide you were confused."
    assert why(Reason("low_confidence", 0.65, {"expressions": 2})) == "You told the Guide you were confused 2 times."
    assert why(Reason("help_request", 0.5, {"questions": 3, "concept": "Factoring"})) == \
        "3 questions to the Guide about Factoring."


def test_why_speaks_of_minutes_and_seconds():
    assert why(Reason("idle", 0.6, {"idle_s": 200.0, "tier": 2})) == "No activity for 3 minutes."
    assert why(Reason("idle", 0.6, {"idle_s": 61.0, "tier": 1})) == "No activity for 1 minute."
    assert why(Reason("long_dwell", 0.3, {"dwell_s": 45.0})) == "45 seconds on the same part of the page."


def test_a_very_long_idle_suggests_a_break():
    assert choose(struggling("idle", tier=3, idle_s=700.0), [], NOW, R, offers_today=0).kind == "break_suggestion"


def test_no_offer_unless_struggling():
    calm = Assessment(0.3, "indeterminate", (Reason("idle", 0.3, {"tier": 1}),))
    assert choose(calm, [], NOW, R, offers_today=0) == NoOffer("not_struggling")


def test_one_offer_per_kind_within_the_cool_down():
    a = struggling("repeated_error", errors_in_a_row=3)
    recent = [offer("hint", 5 * MIN - 1)]
    assert choose(a, recent, NOW, R, offers_today=1).kind == "explanation"   # hint cooling: the next remedy
    assert choose(a, [offer("hint", 5 * MIN)], NOW, R, offers_today=1).kind == "hint"
    both = [offer("hint", 4 * MIN, concept="c0"), offer("explanation", 2 * MIN, concept="c0")]
    assert choose(a, both, NOW, R, offers_today=2) == NoOffer("cooldown")


def test_one_open_offer_at_a_time_until_it_times_out():
    a = struggling("repeated_error", errors_in_a_row=3)
    open_offer = [offer("explanation", 10 * MIN - 1, outcome=None)]
    assert choose(a, open_offer, NOW, R, offers_today=1) == NoOffer("pending_offer")
    timed_out = [offer("explanation", 10 * MIN, outcome=None)]
    assert choose(a, timed_out, NOW, R, offers_today=1).kind == "hint"
    assert expired(open_offer, NOW, R) == [] and expired(timed_out, NOW, R) == [0]


def test_a_gap_between_any_two_offers():
    a = struggling("repeated_error", errors_in_a_row=3)
    assert choose(a, [offer("chat_prompt", MIN - 1)], NOW, R, offers_today=1) == NoOffer("min_gap")
    assert choose(a, [offer("chat_prompt", MIN)], NOW, R, offers_today=1).kind == "hint"


def test_a_daily_cap():
    a = struggling("repeated_error", errors_in_a_row=3)
    assert isinstance(choose(a, [], NOW, R, offers_today=R.daily_cap - 1), Choice)
    assert choose(a, [], NOW, R, offers_today=R.daily_cap) == NoOffer("daily_cap")


def test_weak_prerequisites_are_offered_for_review_weakest_first():
    prereqs = [Prerequisite("p-strong", 0.9, 0.9), Prerequisite("p-low-recall", 0.9, 0.2),
               Prerequisite("p-low-mastery", 0.3, None)]
    choice = choose(struggling("wheel_spinning", attempts=10, needed_streak=3), [], NOW, R, offers_today=0,
                    prerequisites=prereqs)
    assert choice.kind == "review_prompt" and choice.prerequisite.concept_id == "p-low-recall"
    assert choice.features["prerequisite"] == {"concept_id": "p-low-recall", "mastery": 0.9, "recall": 0.2}


def test_a_prerequisite_is_weak_below_either_threshold():
    assert weakest_prerequisite([Prerequisite("a", 0.6, 0.5)], R) is None
    assert weakest_prerequisite([Prerequisite("a", 0.5999, None)], R).concept_id == "a"
    assert weakest_prerequisite([Prerequisite("a", None, 0.4999)], R).concept_id == "a"
    assert weakest_prerequisite([Prerequisite("b", 0.2), Prerequisite("a", 0.2)], R).concept_id == "a"  # tie: by id


def test_behaviour_alone_does_not_send_the_learner_to_prerequisites():
    weak = [Prerequisite("p", 0.1, 0.1)]
    assert choose(struggling("idle", tier=2, idle_s=200.0), [], NOW, R, offers_today=0, prerequisites=weak).kind \
        == "chat_prompt"


def test_persistent_struggle_on_a_concept_escalates_to_the_instructor_if_the_learner_is_visible():
    a = struggling("wheel_spinning", attempts=12, needed_streak=3)
    earlier = [offer("explanation", 20 * MIN), offer("example", 10 * MIN)]
    choice = choose(a, earlier, NOW, R, offers_today=2)
    assert choice.kind == "instructor_note" and choice.features["escalated"]
    hidden = choose(a, earlier, NOW, R, offers_today=2, visible_to_instructors=False)
    assert hidden.kind == "chat_prompt"
    once = choose(a, [offer("explanation", 2 * MIN)], NOW, R, offers_today=1)
    assert once.kind == "example" and not once.features["escalated"]   # one earlier offer: no escalation yet
    noted = earlier + [offer("instructor_note", 23 * 60 * MIN)]
    assert choose(a, noted, NOW, R, offers_today=3).kind == "chat_prompt"  # one note a day


def test_utc_day():
    assert utc_day(0) == "1970-01-01" and utc_day(86_400_000 - 1) == "1970-01-01" and utc_day(86_400_000) == "1970-01-02"


# -- summaries -----------------------------------------------------------------------------------

def test_session_summary_counts_without_content():
    counters = {"signals_total": 12, "signals.idle": 2, "signals.dwell": 10, "idle_ms": 240_500, "dwell_ms": 61_000,
                "answers": 4, "wrong_answers": 3, "peak_score_e4": 7000, "events": 1}
    offers = [{"id": "o1", "kind": "hint", "reason": "repeated_error", "offered_ms": 0, "outcome": "accepted"},
              {"id": "o2", "kind": "explanation", "reason": "idle", "offered_ms": 1000, "outcome": None}]
    s = session_summary(counters, {"score": 0.7, "state": "struggling"}, offers, 1000, 2000)
    assert s["signals_total"] == 12 and s["signals"] == {"dwell": 10, "idle": 2}
    assert (s["idle_s"], s["dwell_s"], s["answers"], s["wrong_answers"]) == (240.5, 61.0, 4, 3)
    assert s["struggle"] == {"score": 0.7, "state": "struggling", "peak_score": 0.7, "events": 1}
    assert s["interventions"] == {"offered": 2, "accepted": 1, "dismissed": 0, "ignored": 0}
    assert s["last_activity"] == "1970-01-01T00:00:01.000Z"
    assert [d["id"] for d in delivered(offers)] == ["o1", "o2"] and delivered(offers)[1]["outcome"] is None


def test_course_overview_lists_only_visible_learners_latest_first():
    events = [{"learner_id": "a", "concept": "c1", "reason": "repeated_error", "score": 0.7, "at": "2026-01-02"},
              {"learner_id": "a", "concept": "c1", "reason": "idle", "score": 0.6, "at": "2026-01-03"},
              {"learner_id": "b", "concept": "c2", "reason": "wheel_spinning", "score": 0.9, "at": "2026-01-04"},
              {"learner_id": "hidden", "concept": "c3", "reason": "idle", "score": 0.6, "at": "2026-01-05"},
              {"learner_id": "b", "concept": None, "reason": "idle", "score": 0.6, "at": "2026-01-01"}]
    interventions = [{"learner_id": "a", "kind": "hint", "outcome": "accepted"},
                     {"learner_id": "a", "kind": "hint", "outcome": None},
                     {"learner_id": "b", "kind": "instructor_note", "outcome": "accepted"},
                     {"learner_id": "hidden", "kind": "hint", "outcome": "dismissed"}]
    out = course_overview(events, interventions, {"a": "user-a", "b": "user-b"}, {"c1": "Fractions"})
    assert [r["lti_user_id"] for r in out["learners"]] == ["user-b", "user-a"]
    a = out["learners"][1]
    assert a["struggle_events"] == 2 and a["max_score"] == 0.7 and a["asked_for_instructor"] is False
    assert a["concepts"] == [{"concept_id": "c1", "concept_name": "Fractions", "count": 2}]
    assert out["learners"][0]["asked_for_instructor"] is True
    assert [c["concept_id"] for c in out["concepts"]] == ["c1", "c2"]   # c3 is the hidden learner's
    hint = next(k for k in out["interventions"] if k["kind"] == "hint")
    assert (hint["offered"], hint["accepted"], hint["pending"], hint["dismissed"]) == (2, 1, 1, 0)


def test_policy_thresholds_travel_with_each_choice():
    rules = replace(R, cooldown_s=120, instructor_note_cooldown_s=3600)
    choice = choose(struggling("repeated_error", errors_in_a_row=3), [], NOW, rules, offers_today=0)
    assert choice.features["thresholds"]["cooldown_s"] == 120
    assert rules.cooldown_for("instructor_note") == 3600
