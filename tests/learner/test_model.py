"""The learner model's pure functions: BKT, ability, rapid guesses, the predictor."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learner import model as lm

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def bkt_params(draw):
    guess = draw(st.floats(0.0, 0.49))
    slip = draw(st.floats(0.0, 0.49))
    transit = draw(st.floats(0.0, 0.9))
    forget = draw(st.floats(0.0, min(0.5, 0.99 - transit)))
    return lm.BKTParams(draw(unit), transit, slip, guess, forget)


responses = st.lists(st.tuples(unit, st.integers(0, 3)), min_size=1, max_size=30)


def run(bkt, answers, params=lm.ModelParams()):
    state = lm.new_state(bkt)
    ability = lm.Ability()
    difficulty = 0.0
    outs = []
    for i, (credit, hints) in enumerate(answers):
        out = lm.update(state, lm.Response(credit, hints=hints), ability, difficulty, i, bkt, params)
        ability = ability.plus(state, out.state)
        difficulty += out.difficulty_delta
        state = out.state
        outs.append(out)
    return state, ability, outs


@settings(max_examples=200, deadline=None)
@given(bkt_params(), responses)
def test_every_probability_stays_within_zero_and_one(bkt, answers):
    state, ability, outs = run(bkt, answers)
    for out in outs:
        for p in (out.prediction.p_correct, out.prediction.p_bkt, out.prediction.p_ability, out.state.p_known,
                  out.state.recent):
            assert 0.0 <= p <= 1.0 and not math.isnan(p)
    assert 0.0 <= lm.wheelspin_risk(state, bkt) <= 1.0
    assert ability.se <= 1.0


@settings(max_examples=300, deadline=None)
@given(bkt_params(), st.lists(st.booleans(), min_size=1, max_size=25), st.data())
def test_more_right_answers_never_lower_bkt_mastery(bkt, answers, data):
    # Given a sequence of answers, when one wrong answer is turned right,
    # then the mastery after the sequence is at least as high.
    wrong = [i for i, a in enumerate(answers) if not a]
    if not wrong:
        return
    flip = data.draw(st.sampled_from(wrong))
    better = list(answers)
    better[flip] = True
    before, _, _ = run(bkt, [(1.0 if a else 0.0, 0) for a in answers])
    after, _, _ = run(bkt, [(1.0 if a else 0.0, 0) for a in better])
    assert after.p_known >= before.p_known - 1e-12


@settings(max_examples=200, deadline=None)
@given(bkt_params(), unit, unit, unit)
def test_mastery_after_one_answer_grows_with_credit(bkt, prior, low, high):
    low, high = sorted((low, high))
    assert lm.bkt_posterior(prior, high, bkt) >= lm.bkt_posterior(prior, low, bkt) - 1e-12


def test_a_right_answer_raises_mastery_and_a_wrong_one_lowers_it():
    bkt = lm.BKTParams(p_init=0.4, p_transit=0.1, p_slip=0.1, p_guess=0.2)
    state = lm.new_state(bkt)
    right = lm.update(state, lm.Response(1.0), lm.Ability(), 0.0, 0, bkt, lm.ModelParams()).state
    wrong = lm.update(state, lm.Response(0.0), lm.Ability(), 0.0, 0, bkt, lm.ModelParams()).state
    assert right.p_known > 0.4 > wrong.p_known
    assert (right.correct, right.incorrect, right.streak) == (1, 0, 1)
    assert (wrong.correct, wrong.incorrect, wrong.streak) == (0, 1, 0)


def test_forgetting_pulls_the_next_prediction_down():
    state = lm.ConceptState(p_known=0.99, attempts=5)
    keeps = lm.BKTParams(p_forget=0.0)
    forgets = lm.BKTParams(p_forget=0.3)
    assert lm.bkt_prior(state, forgets) < lm.bkt_prior(state, keeps)


@pytest.mark.parametrize("seconds,typical,rapid", [
    (1.0, 60.0, True),     # under 10% of a minute
    (7.0, 60.0, False),    # above 6 s
    (9.0, 300.0, True),    # 10% would be 30 s; capped at 10 s
    (11.0, 300.0, False),
    (1.0, None, False),    # no typical time: no rule
    (None, 60.0, False),
])
def test_rapid_guess_is_faster_than_ten_percent_of_typical_time_capped_at_ten_seconds(seconds, typical, rapid):
    assert lm.is_rapid_guess(seconds, typical) is rapid


def test_a_rapid_guess_is_counted_but_not_evidence():
    bkt = lm.BKTParams()
    state = lm.ConceptState(p_known=0.5, attempts=2, correct=1, incorrect=1)
    out = lm.update(state, lm.Response(1.0, response_time_s=0.5, typical_time_s=60.0), lm.Ability(), 0.0, 0, bkt,
                    lm.ModelParams())
    assert out.rapid_guess and out.difficulty_delta == 0.0
    assert out.state == lm.ConceptState(p_known=0.5, attempts=2, correct=1, incorrect=1, rapid_guesses=1)


def test_hints_make_a_right_answer_weaker_evidence():
    bkt = lm.BKTParams(p_init=0.4)
    state = lm.new_state(bkt)
    clean = lm.update(state, lm.Response(1.0), lm.Ability(), 0.0, 0, bkt, lm.ModelParams()).state
    hinted = lm.update(state, lm.Response(1.0, hints=2), lm.Ability(), 0.0, 0, bkt, lm.ModelParams()).state
    assert hinted.p_known < clean.p_known


def test_learner_ability_is_the_sum_of_concept_evidence_and_its_error_shrinks_with_evidence():
    bkt = lm.BKTParams()
    _, ability, outs = run(bkt, [(1.0, 0)] * 8)
    assert ability.theta > 0
    assert ability.se < 1.0
    summed = lm.learner_ability([outs[-1].state])
    assert math.isclose(summed.theta, ability.theta) and summed.attempts == 8


def test_wrong_answers_raise_the_concept_difficulty_and_right_ones_lower_it():
    bkt = lm.BKTParams()
    state = lm.new_state(bkt)
    assert lm.update(state, lm.Response(0.0), lm.Ability(), 0.0, 0, bkt, lm.ModelParams()).difficulty_delta > 0
    assert lm.update(state, lm.Response(1.0), lm.Ability(), 0.0, 0, bkt, lm.ModelParams()).difficulty_delta < 0


def test_wheelspin_risk_is_high_after_failures_and_zero_after_three_in_a_row():
    bkt = lm.BKTParams(p_init=0.2, p_transit=0.05, p_slip=0.1, p_guess=0.2)
    failing, _, _ = run(bkt, [(0.0, 0)] * 5)
    mastering, _, _ = run(bkt, [(1.0, 0)] * 3)
    assert lm.wheelspin_risk(mastering, bkt) == 0.0
    assert lm.wheelspin_risk(failing, bkt) > 0.5
    assert lm.wheelspin_risk(lm.ConceptState(p_known=0.2, attempts=10), bkt) == 1.0


def test_bkt_parameters_that_would_invert_evidence_are_refused():
    assert lm.BKTParams(p_guess=0.6, p_slip=0.5).problems() == ["p_guess + p_slip must be below 1"]
    assert lm.BKTParams(p_transit=0.7, p_forget=0.4).problems() == ["p_transit + p_forget must be below 1"]
    assert lm.BKTParams(p_init=1.5).problems() == ["p_init must be within [0, 1]"]


def test_model_params_round_trip_and_bad_documents_name_the_field():
    params = lm.ModelParams(lm.BKTParams(p_init=0.5), lm.EloConfig(learner_floor=0.2), lm.PredictorWeights(bias=0.3))
    assert lm.ModelParams.from_dict(params.to_dict()) == params
    with pytest.raises(ValueError, match=r"predictor: unknown field\(s\) nope"):
        lm.ModelParams.from_dict({"predictor": {"nope": 1}})
    with pytest.raises(ValueError, match="elo.learner_a must not be negative"):
        lm.ModelParams.from_dict({"elo": {"learner_a": -1}})
    with pytest.raises(ValueError, match="default: p_guess"):
        lm.ModelParams.from_dict({"default": {"p_guess": 0.7, "p_slip": 0.5}})
    with pytest.raises(ValueError, match="must be a finite number"):
        lm.ModelParams.from_dict({"predictor": {"bias": "x"}})


def test_the_pure_modules_import_only_the_stdlib_fsrs_and_each_other():
    # They run unchanged in the Worker, under Pyodide and in the offline tools.
    import ast
    import sys
    from pathlib import Path

    src = Path(lm.__file__).parent
    for name in ("model.py", "graph.py", "memory.py", "progress.py"):
        tree = ast.parse((src / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            for root in roots:
                assert root in sys.stdlib_module_names or root in ("fsrs", "learner", "__future__"), (name, root)
