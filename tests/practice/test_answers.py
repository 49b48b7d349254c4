"""Answer checking as pure functions: normalisation, numbers written several ways,
alternatives, typo tolerance at its boundaries, misconceptions, flashcard grades."""

from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from practice.answers import (AGAIN, EASY, GOOD, HARD, Misconception, allowed_typos, check_fill_blank,
                              edit_distance, flashcard_grade, has_blank, normalise, parse_number)


@pytest.mark.parametrize("raw, expected", [
    ("  Mitochondria ", "mitochondria"),
    ("MITOCHONDRIA", "mitochondria"),
    ("the   mitochondria.", "mitochondria"),
    ("A cell", "cell"),
    ("a", "a"),                               # an article alone is the answer, not dropped
    ("“quoted”", "quoted"),
    ("ＡＢＣ", "abc"),                          # full-width letters (NFKC)
    ("ﬁsh", "fish"),                          # ligature (NFKC)
    ("Straße", "strasse"),                    # case folding, not just lower()
    ("x\u2013y", "x-y"),                      # typographic dash made plain
    ("two\twords\nhere", "two words here"),
    ("!?", ""),
])
def test_normalise_makes_equivalent_writings_equal(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize("raw, value", [
    ("0.5", Fraction(1, 2)), (".5", Fraction(1, 2)), ("1/2", Fraction(1, 2)), ("1 / 2", Fraction(1, 2)),
    ("½", Fraction(1, 2)), ("1½", Fraction(3, 2)), ("1 1/2", Fraction(3, 2)), ("-3", Fraction(-3)),
    ("1,000", Fraction(1000)), ("2.5e3", Fraction(2500)), ("０.５", Fraction(1, 2)), ("4.", Fraction(4)),
    ("-1/4", Fraction(-1, 4)), ("¾", Fraction(3, 4)),
])
def test_numbers_are_read_exactly_whatever_the_writing(raw, value):
    assert parse_number(raw) == value


@pytest.mark.parametrize("raw", ["", "abc", "1/0", "1 1/0", "1,00", "five", "1..2", "--1",
                                 # exact arithmetic on these would take seconds of CPU (the Worker's cap is 50 ms)
                                 "1e10000000", "1e-10000000", "9" * 65, "1/" + "7" * 70])
def test_what_is_not_a_number_is_none(raw):
    assert parse_number(raw) is None


def test_a_huge_exponent_is_checked_as_text_not_computed():
    verdict = check_fill_blank("1e10000000", ["10"], [], 1, None)
    assert not verdict.correct and verdict.outcome == "wrong"
    assert parse_number("1e400") == Fraction(10) ** 400 and parse_number("1e401") is None


@pytest.mark.parametrize("length, tolerance, allowed", [
    (3, 3, 0), (4, 3, 1), (7, 3, 1), (8, 3, 2), (11, 3, 2), (12, 3, 3), (40, 3, 3),
    (12, 1, 1), (12, 0, 0), (8, 2, 2), (12, 9, 3),
])
def test_typo_allowance_scales_with_length_and_is_capped_by_the_tolerance(length, tolerance, allowed):
    assert allowed_typos("x" * length, tolerance) == allowed


def test_edit_distance_counts_insert_delete_substitute_and_swap_as_one_each():
    assert edit_distance("photosynthesis", "photosynthesis", 3) == 0
    assert edit_distance("photosynthesis", "photosynthsis", 3) == 1      # deletion
    assert edit_distance("photosynthesis", "photosynthessis", 3) == 1    # insertion
    assert edit_distance("photosynthesis", "photosynthasis", 3) == 1     # substitution
    assert edit_distance("photosynthesis", "photosyntehsis", 3) == 1     # neighbours swapped
    assert edit_distance("photosynthesis", "fotosynthesis", 3) == 2
    assert edit_distance("abcdef", "ghijkl", 2) == 3                     # stops past the limit


def test_typo_tolerance_boundaries_for_a_word_of_fourteen_letters():
    word = "photosynthesis"  # 14 letters: up to 3 typos, never more than the activity allows
    assert check_fill_blank("photosynthsis", [word], typo_tolerance=1).outcome == "typo"
    assert check_fill_blank("fotosynthesis", [word], typo_tolerance=1).outcome == "wrong"    # 2 edits > 1
    assert check_fill_blank("fotosynthesis", [word], typo_tolerance=2).outcome == "typo"
    assert check_fill_blank("photosynthesis", [word], typo_tolerance=0).outcome == "exact"
    assert check_fill_blank("photosynthsis", [word], typo_tolerance=0).outcome == "wrong"


def test_short_answers_must_be_exact():
    assert check_fill_blank("cut", ["cat"], typo_tolerance=3).outcome == "wrong"
    assert check_fill_blank("cels", ["cell"], typo_tolerance=3).outcome == "typo"  # 4 letters: one typo


def test_a_typo_is_accepted_with_the_right_spelling_shown():
    v = check_fill_blank("chlorophyl", ["chlorophyll"], typo_tolerance=1)
    assert v.correct and v.credit == 1.0 and "chlorophyll" in v.feedback


def test_accepted_alternatives_and_numbers_written_another_way_are_right():
    assert check_fill_blank("Four", ["4", "four"]).outcome == "alternative"
    assert check_fill_blank("4", ["4", "four"]).outcome == "exact"
    assert check_fill_blank("½", ["0.5"]).outcome == "numeric"
    assert check_fill_blank("2/4", ["0.5"]).outcome == "numeric"
    assert check_fill_blank("0.51", ["0.5"]).outcome == "wrong"
    assert check_fill_blank("0.51", ["0.5"], numeric_tolerance=0.02).outcome == "numeric"


def test_numbers_are_never_nearly_right():
    assert check_fill_blank("1001", ["1000"], typo_tolerance=3).outcome == "wrong"


def test_a_misconception_gets_its_own_feedback():
    wrong = [Misconception("respiration", "Respiration releases energy; it does not build sugar.")]
    v = check_fill_blank("Respiration.", ["photosynthesis"], wrong)
    assert not v.correct and v.outcome == "misconception" and v.feedback.startswith("Respiration releases")
    assert v.misconception == "respiration"


def test_a_misconception_written_with_a_typo_is_still_recognised():
    wrong = [Misconception("respiration", "No: respiration.")]
    assert check_fill_blank("respiraton", ["photosynthesis"], wrong).outcome == "misconception"


def test_a_misconception_closer_than_the_accepted_answer_wins():
    wrong = [Misconception("affect", "Affect is the verb.")]
    v = check_fill_blank("afect", ["effect"], wrong, typo_tolerance=1)
    assert v.outcome == "misconception"


def test_numeric_misconceptions_match_numerically():
    wrong = [Misconception("2", "2 is the denominator.")]
    assert check_fill_blank("2.0", ["0.5"], wrong).outcome == "misconception"


def test_blank_and_wrong_answers():
    assert check_fill_blank("   ", ["x"]).outcome == "blank"
    v = check_fill_blank("banana", ["apple"])
    assert (v.correct, v.credit, v.outcome) == (False, 0.0, "wrong")


@pytest.mark.parametrize("grade, credit, rating", [("again", 0.0, AGAIN), ("Hard", 0.75, HARD), ("GOOD", 1.0, GOOD),
                                                   (" easy ", 1.0, EASY)])
def test_flashcard_grades_map_onto_fsrs_grades(grade, credit, rating):
    g = flashcard_grade(grade)
    assert (g.credit, g.rating) == (credit, rating)


def test_a_flashcard_grade_outside_the_four_is_refused():
    with pytest.raises(ValueError):
        flashcard_grade("perfect")


def test_the_learner_models_fsrs_grades_are_these_four():
    from fsrs import Rating

    assert [AGAIN, HARD, GOOD, EASY] == [Rating.Again.value, Rating.Hard.value, Rating.Good.value, Rating.Easy.value]


def test_a_blank_is_three_underscores_or_more():
    assert has_blank("x is ___.") and has_blank("_____ y") and not has_blank("x is __.")


@given(st.text(max_size=40))
def test_normalising_twice_changes_nothing(text):
    assert normalise(normalise(text)) == normalise(text)


@given(st.text(alphabet="abcde", max_size=12), st.text(alphabet="abcde", max_size=12))
def test_edit_distance_is_symmetric_and_zero_only_for_equal_strings(a, b):
    d = edit_distance(a, b, 20)
    assert d == edit_distance(b, a, 20)
    assert (d == 0) == (a == b)
    assert d <= max(len(a), len(b))


@given(st.text(alphabet="abcdefgh", min_size=4, max_size=14), st.integers(0, 3))
def test_the_exact_answer_is_always_right(answer, tolerance):
    assert check_fill_blank(answer, [answer], typo_tolerance=tolerance).correct
