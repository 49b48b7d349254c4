"""Next-item selection as a pure function: properties over generated learners and banks
(hypothesis), and the order of its tiers on small examples."""

from hypothesis import given, settings, strategies as st

from practice.selection import (TARGET_HIGH, TARGET_LOW, Candidate, ConceptStatus, choose, item_success,
                                remember)

CONCEPTS = ["c0", "c1", "c2", "c3"]


@st.composite
def situations(draw):
    n = draw(st.integers(1, 40))
    items = [Candidate(f"i{k}", draw(st.sampled_from(CONCEPTS)), draw(st.integers(1, 10))) for k in range(n)]
    statuses = {}
    for c in CONCEPTS:
        mastered = draw(st.booleans())
        statuses[c] = ConceptStatus(
            c, draw(st.floats(0.01, 0.99)), mastered, draw(st.booleans()), draw(st.floats(0, 1)),
            tuple(draw(st.lists(st.sampled_from([x for x in CONCEPTS if x != c]), max_size=2, unique=True))),
            draw(st.integers(0, 20)), draw(st.floats(0, 1)))
    recent = draw(st.lists(st.sampled_from([i.item_id for i in items]), max_size=5, unique=True))
    return items, statuses, recent, draw(st.integers(0, 100))


@settings(max_examples=300, deadline=None)
@given(situations())
def test_the_choice_is_an_item_of_the_activity_and_never_the_one_just_answered_if_another_exists(s):
    items, statuses, recent, salt = s
    choice = choose(items, statuses, recent, salt)
    assert choice is not None and choice.item_id in {i.item_id for i in items}
    if recent and len({i.item_id for i in items}) > 1:
        assert choice.item_id != recent[-1]


@settings(max_examples=300, deadline=None)
@given(situations())
def test_due_reviews_come_first(s):
    items, statuses, recent, salt = s
    fresh_due = {i.concept for i in items if statuses[i.concept].due and i.item_id not in recent}
    choice = choose(items, statuses, recent, salt)
    if fresh_due:
        assert statuses[choice.concept].due and choice.reason == "review"


@settings(max_examples=300, deadline=None)
@given(situations())
def test_without_reviews_a_concept_whose_prerequisites_are_mastered_comes_next(s):
    items, statuses, recent, salt = s
    if any(st_.due for st_ in statuses.values()):
        return
    ready = {i.concept for i in items if i.item_id not in recent and not statuses[i.concept].mastered
             and not statuses[i.concept].missing}
    choice = choose(items, statuses, recent, salt)
    if ready:
        assert choice.concept in ready and choice.reason == "learn"


@settings(max_examples=300, deadline=None)
@given(situations())
def test_the_predicted_success_is_in_the_band_whenever_the_chosen_concept_offers_such_an_item(s):
    items, statuses, recent, salt = s
    choice = choose(items, statuses, recent, salt)
    pool = [i for i in items if i.concept == choice.concept and i.item_id not in recent] or \
           [i for i in items if i.concept == choice.concept and i.item_id != (recent[-1] if recent else None)]
    if not pool:
        return
    mean = sum(i.difficulty for i in pool) / len(pool)
    in_band = [i for i in pool if TARGET_LOW <= item_success(statuses[choice.concept].p_correct, i.difficulty, mean)
               <= TARGET_HIGH]
    if in_band:
        assert TARGET_LOW <= choice.predicted <= TARGET_HIGH


@settings(max_examples=100, deadline=None)
@given(situations())
def test_the_same_situation_gives_the_same_choice(s):
    items, statuses, recent, salt = s
    assert choose(items, statuses, recent, salt) == choose(list(reversed(items)), statuses, recent, salt)


def test_an_activity_without_items_has_no_next_item():
    assert choose([], {"c0": ConceptStatus("c0", 0.5)}) is None
    assert choose([Candidate("x", "elsewhere", 5)], {"c0": ConceptStatus("c0", 0.5)}) is None


def test_an_activity_with_one_item_repeats_it():
    only = [Candidate("x", "c0", 5)]
    choice = choose(only, {"c0": ConceptStatus("c0", 0.5)}, recent=["x"])
    assert (choice.item_id, choice.reason) == ("x", "repeat")


def test_within_a_concept_the_item_nearest_the_target_success_is_chosen():
    items = [Candidate(f"d{d}", "c0", d) for d in range(1, 11)]
    weak = choose(items, {"c0": ConceptStatus("c0", 0.3)})
    strong = choose(items, {"c0": ConceptStatus("c0", 0.95)})
    by_id = {i.item_id: i.difficulty for i in items}
    assert by_id[weak.item_id] < by_id[strong.item_id]  # an easier item for the learner who struggles
    assert TARGET_LOW <= weak.predicted <= TARGET_HIGH and TARGET_LOW <= strong.predicted <= TARGET_HIGH


def test_tiers_in_order_review_learn_stretch_practice():
    items = [Candidate("r", "due", 5), Candidate("l", "ready", 5), Candidate("s", "blocked", 5),
             Candidate("p", "done", 5)]
    statuses = {"due": ConceptStatus("due", 0.8, mastered=True, due=True, recall=0.7),
                "ready": ConceptStatus("ready", 0.5),
                "blocked": ConceptStatus("blocked", 0.5, missing=("ready",)),
                "done": ConceptStatus("done", 0.9, mastered=True, recall=0.95)}
    order = []
    recent: list[str] = []
    for _ in range(4):
        c = choose(items, statuses, recent)
        order.append(c.reason)
        statuses.pop(c.concept)
        recent = remember(recent, c.item_id)
    assert order == ["review", "learn", "stretch", "practice"]


def test_equally_good_items_take_turns_as_the_salt_changes():
    items = [Candidate(f"same{k}", "c0", 5) for k in range(6)]
    picks = {choose(items, {"c0": ConceptStatus("c0", 0.7)}, salt=s).item_id for s in range(30)}
    assert len(picks) > 1


def test_remember_keeps_the_last_five_oldest_first_without_duplicates():
    recent: list[str] = []
    for x in ["a", "b", "a", "c", "d", "e", "f"]:
        recent = remember(recent, x)
    assert recent == ["a", "c", "d", "e", "f"]
