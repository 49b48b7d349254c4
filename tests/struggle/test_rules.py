"""The detection rules, each pinned at its thresholds from both sides (struggle/rules.py,
defaults in struggle/config.py)."""

from dataclasses import replace

import pytest

from struggle.config import DEFAULTS as R
from struggle.rules import Answer, Signal, assess, is_rapid_guess, noisy_or, rapid_threshold_s, tier, wheel_spinning

NOW = 1_800_000_000_000


def answers(pattern: str, concept: str = "c1", **kw) -> list[Answer]:
    """'1' right, '0' wrong, one second apart, the last one second ago."""
    n = len(pattern)
    return [Answer(at_ms=NOW - (n - i) * 1000, concept_id=concept, credit=1.0 if ch == "1" else 0.0,
                   response_time_s=kw.get("rt", 20.0), typical_time_s=kw.get("typical"),
                   hints_used=kw.get("hints", 0), misconception=kw.get("misconception") if ch == "0" else None)
            for i, ch in enumerate(pattern)]


def signal(kind: str, ago_ms: int = 1000, **kw) -> Signal:
    return Signal(kind, kw.pop("t_ms", NOW - ago_ms), NOW - ago_ms, **kw)


def codes(assessment) -> list[str]:
    return [r.code for r in assessment.reasons]


# -- wheel-spinning (Beck & Gong) -------------------------------------------------------

def test_nine_attempts_without_mastery_is_indeterminate_not_struggle():
    result = assess(answers("0" * 9, rt=20), [], NOW, replace(R, repeated_errors=50, help_avoidance_errors=50))
    assert "wheel_spinning" not in codes(result)
    assert result.mastery == "indeterminate" and result.state == "indeterminate"


def test_ten_attempts_without_three_in_a_row_is_wheel_spinning():
    result = assess(answers("1101101101"), [], NOW, R)
    assert codes(result) == ["wheel_spinning"]
    assert result.state == "struggling" and result.reasons[0].evidence["attempts"] == 10
    assert result.reasons[0].evidence["best_streak"] == 2 and result.reasons[0].concept_id == "c1"


def test_three_right_in_a_row_by_the_tenth_attempt_is_mastery():
    label, evidence = wheel_spinning(answers("0000000111"), R)
    assert label == "mastered" and evidence == {"attempts": 10, "streak": 3}
    assert wheel_spinning(answers("000000011"), R)[0] == "indeterminate"    # two in a row, nine tries
    assert wheel_spinning(answers("0000000011"), R)[0] == "wheel_spinning"  # still two at the tenth


def test_the_learner_models_mastery_counts_from_its_threshold():
    base = answers("00")
    at = [base[0], replace(base[1], mastery=0.95)]
    below = [base[0], replace(base[1], mastery=0.9499)]
    assert wheel_spinning(at, R)[0] == "mastered"
    assert wheel_spinning(below, R)[0] == "indeterminate"


def test_rapid_guesses_are_not_counted_as_attempts():
    ten = answers("0" * 10, typical=60.0)
    one_rapid = ten[:9] + [replace(ten[9], response_time_s=1.0)]
    assert "wheel_spinning" in codes(assess(ten, [], NOW, R))
    assert "wheel_spinning" not in codes(assess(one_rapid, [], NOW, R))


def test_only_the_concept_being_worked_on_counts():
    mixed = answers("0" * 10, concept="old") + answers("1", concept="new")
    result = assess(mixed, [], NOW, replace(R, help_avoidance_errors=50))
    assert result.concept_id == "new" and "wheel_spinning" not in codes(result)


# -- rapid guessing (normative threshold NT10) ----------------------------------------------

@pytest.mark.parametrize("typical, fast, not_fast", [(60.0, 5.999, 6.0), (200.0, 9.999, 10.0), (1.0, 0.099, 0.1)])
def test_rapid_guess_is_under_ten_percent_of_typical_time_capped_at_ten_seconds(typical, fast, not_fast):
    base = answers("1", typical=typical)[0]
    assert is_rapid_guess(replace(base, response_time_s=fast), R)
    assert not is_rapid_guess(replace(base, response_time_s=not_fast), R)


def test_without_a_typical_time_no_answer_is_a_rapid_guess_unless_the_model_says_so():
    base = answers("1")[0]
    assert rapid_threshold_s(None, R) is None and not is_rapid_guess(replace(base, response_time_s=0.01), R)
    assert is_rapid_guess(replace(base, rapid_guess=True), R)
    assert not is_rapid_guess(replace(base, response_time_s=0.01, typical_time_s=60, rapid_guess=False), R)


def test_rapid_guessing_needs_three_of_the_last_five_answers():
    def run(rapid_positions):
        xs = answers("11111", typical=60.0)
        xs = [replace(a, response_time_s=1.0) if i in rapid_positions else a for i, a in enumerate(xs)]
        return codes(assess(xs, [], NOW, R))

    assert "rapid_guessing" not in run({0, 4})
    assert "rapid_guessing" in run({0, 2, 4})
    six = answers("111111", typical=60.0)
    six = [replace(a, response_time_s=1.0) if i in (0, 1, 2) else a for i, a in enumerate(six)]
    assert "rapid_guessing" not in codes(assess(six, [], NOW, R))  # the first one left the window of five


# -- repeated errors and misconceptions ---------------------------------------------------

def test_three_wrong_in_a_row_on_a_concept_is_repeated_error():
    assert "repeated_error" not in codes(assess(answers("100"), [], NOW, R))
    result = assess(answers("1000"), [], NOW, R)
    assert "repeated_error" in codes(result) and result.state == "struggling"
    assert "repeated_error" not in codes(assess(answers("0001"), [], NOW, R))


def test_the_same_misconception_twice_counts_while_the_latest_attempt_is_wrong():
    once = answers("10", misconception="sign-flip")
    twice = answers("010", misconception="sign-flip")
    twice_then_right = answers("0101", misconception="sign-flip")
    assert "misconception" not in codes(assess(once, [], NOW, R))
    found = [r for r in assess(twice, [], NOW, R).reasons if r.code == "misconception"]
    assert found and found[0].evidence == {"misconception": "sign-flip", "times": 2}
    assert "misconception" not in codes(assess(twice_then_right, [], NOW, R))


# -- help abuse and help avoidance (Aleven et al.) --------------------------------------------

def hints(gaps_ms: list[int], words: int = 0, target: str = "q1") -> list[Signal]:
    out, t = [], NOW - 60_000
    out.append(signal("help_request", t_ms=t, help="hint", target=target))
    for gap in gaps_ms:
        t += gap
        out.append(signal("help_request", t_ms=t, help="hint", target=target, words=words))
    return out


def test_help_abuse_is_two_hints_requested_faster_than_they_can_be_read():
    assert "help_abuse" not in codes(assess([], hints([2999]), NOW, R))          # one fast request
    assert "help_abuse" in codes(assess([], hints([2999, 2999]), NOW, R))        # two
    assert "help_abuse" not in codes(assess([], hints([3000, 3000]), NOW, R))    # at reading time: not fast
    # a longer hint takes longer to read: 20 words at 240 ms a word
    assert "help_abuse" in codes(assess([], hints([4799, 4799], words=20), NOW, R))
    assert "help_abuse" not in codes(assess([], hints([4800, 4800], words=20), NOW, R))


def test_hint_requests_on_different_elements_are_not_paired():
    mixed = hints([1000], target="q1")[:1] + hints([1000], target="q2")[1:] + hints([1000], target="q3")[1:]
    assert "help_abuse" not in codes(assess([], mixed, NOW, R))


def test_help_avoidance_is_four_wrong_answers_without_asking_for_help():
    rules = replace(R, repeated_errors=50)
    assert "help_avoidance" not in codes(assess(answers("1000"), [], NOW, rules))
    result = assess(answers("0000"), [], NOW, rules)
    assert "help_avoidance" in codes(result)
    asked = [signal("help_request", ago_ms=2500, help="hint")]  # between the 2nd and the 3rd answer
    assert "help_avoidance" not in codes(assess(answers("0000"), asked, NOW, rules))
    with_hint = answers("0000")
    with_hint[1] = replace(with_hint[1], hints_used=1)
    assert "help_avoidance" not in codes(assess(with_hint, [], NOW, rules))


# -- idle, dwell, scrolling, revisits ---------------------------------------------------------

@pytest.mark.parametrize("ms, expected_tier", [(59_999, 0), (60_000, 1), (179_999, 1), (180_000, 2),
                                               (599_999, 2), (600_000, 3)])
def test_idle_tiers(ms, expected_tier):
    result = assess([], [signal("idle", ms=ms)], NOW, R)
    idle = [r for r in result.reasons if r.code == "idle"]
    assert (idle[0].evidence["tier"] if idle else 0) == expected_tier
    assert tier(ms, R.idle_tiers()) == expected_tier
    expected_state = {0: "ok", 1: "indeterminate", 2: "struggling", 3: "struggling"}[expected_tier]
    assert result.state == expected_state


@pytest.mark.parametrize("ms, expected_tier", [(119_999, 0), (120_000, 1), (299_999, 1), (300_000, 2),
                                               (600_000, 3)])
def test_long_dwell_tiers(ms, expected_tier):
    result = assess([], [signal("dwell", ms=ms, target="section-2")], NOW, R)
    dwell = [r for r in result.reasons if r.code == "long_dwell"]
    assert (dwell[0].evidence["tier"] if dwell else 0) == expected_tier
    if dwell:
        assert dwell[0].evidence["target"] == "section-2" and dwell[0].strength == R.tier_strengths()[expected_tier - 1]


def test_behaviour_older_than_the_window_is_not_evidence():
    window = R.behaviour_window_s * 1000
    assert "idle" in codes(assess([], [signal("idle", ago_ms=window, ms=200_000)], NOW, R))
    assert "idle" not in codes(assess([], [signal("idle", ago_ms=window + 1, ms=200_000)], NOW, R))


def test_fast_scrolling_is_three_bursts_of_at_least_3000_px_per_s_over_1200_px():
    def scrolls(dy, ms, n=3):
        return [signal("scroll", ago_ms=1000 + i, dy_px=dy, ms=ms) for i in range(n)]

    assert "rapid_scrolling" in codes(assess([], scrolls(1200, 400), NOW, R))       # exactly 3000 px/s
    assert "rapid_scrolling" not in codes(assess([], scrolls(1200, 401), NOW, R))   # just slower
    assert "rapid_scrolling" not in codes(assess([], scrolls(1199, 1), NOW, R))     # too short a distance
    assert "rapid_scrolling" in codes(assess([], scrolls(-5000, 100), NOW, R))      # upwards counts too
    assert "rapid_scrolling" not in codes(assess([], scrolls(5000, 100, n=2), NOW, R))


def test_revisiting_is_three_returns_to_one_element():
    two = [signal("revisit", target="s1"), signal("revisit", target="s1"), signal("revisit", target="s2")]
    three = two + [signal("revisit", target="s1")]
    assert "revisiting" not in codes(assess([], two, NOW, R))
    found = [r for r in assess([], three, NOW, R).reasons if r.code == "revisiting"]
    assert found and found[0].evidence == {"target": "s1", "revisits": 3}


# -- how it adds up -----------------------------------------------------------------------------

def test_score_is_noisy_or_and_weak_evidence_adds_up_to_struggle():
    assert noisy_or([]) == 0.0 and noisy_or([0.6]) == 0.6 and noisy_or([0.5, 0.5]) == 0.75
    weak = [signal("idle", ms=60_000), signal("revisit", target="a"), signal("revisit", target="a"),
            signal("revisit", target="a")]
    result = assess([], weak, NOW, R)
    assert result.score == 0.51 and result.state == "indeterminate"
    more = weak + [signal("scroll", ago_ms=900 + i, dy_px=3000, ms=100) for i in range(3)]
    result = assess([], more, NOW, R)
    assert result.score == pytest.approx(0.706) and result.state == "struggling"


def test_the_struggle_threshold_is_a_rule():
    idle = [signal("idle", ms=180_000)]
    assert assess([], idle, NOW, R).state == "struggling"
    assert assess([], idle, NOW, replace(R, struggle_threshold=0.61)).state == "indeterminate"


def test_reasons_are_ordered_strongest_first_answers_before_behaviour_on_ties():
    result = assess(answers("0" * 10), [signal("idle", ms=600_000)], NOW, R)
    assert codes(result)[:2] == ["wheel_spinning", "idle"]
    tie = assess(answers("1000"), [signal("idle", ms=700_000)], NOW, replace(R, strength_tier3=0.7))
    assert codes(tie)[:2] == ["repeated_error", "idle"]


def test_answering_fast_and_well_is_ok_whatever_the_behaviour():
    flow = answers("111", typical=30.0)
    busy = [signal("idle", ms=700_000)]
    assert assess(flow, busy, NOW, R).state == "ok" and assess(flow, busy, NOW, R).in_flow
    late = [replace(a, at_ms=a.at_ms - R.flow_recent_s * 1000) for a in flow]
    assert assess(late, busy, NOW, R).state == "struggling"
    guessed = flow[:2] + [replace(flow[2], response_time_s=0.5)]
    assert not assess(guessed, busy, NOW, R).in_flow


def test_without_analytics_consent_only_answers_count():
    result = assess(answers("1000"), [signal("idle", ms=700_000)], NOW, R, behaviour_allowed=False)
    assert codes(result) == ["repeated_error"]


def test_answers_older_than_the_answer_window_are_not_evidence():
    window = R.answer_window_s * 1000
    old = [replace(a, at_ms=NOW - window) for a in answers("000")]
    older = [replace(a, at_ms=NOW - window - 1) for a in answers("000")]
    assert "repeated_error" in codes(assess(old, [], NOW, R))
    assert assess(older, [], NOW, R).reasons == () and assess(older, [], NOW, R).state == "ok"


def test_nothing_known_is_ok_and_serialises():
    result = assess([], [], NOW, R)
    assert (result.score, result.state, result.dominant) == (0.0, "ok", None)
    assert result.to_dict() == {"score": 0.0, "state": "ok", "concept_id": None, "mastery": None, "in_flow": False,
                                "reasons": []}
