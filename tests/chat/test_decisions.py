"""The Guide's pure decisions: token counting, limits and budgets, prompt building and its
running summary, the offline Guide, explanation judging, chat signals, SSE, policy."""

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from chat import judge, limits, offline, policy, prompt, signals, sse, tokens

DEFAULTS = dict(limits.DEFAULTS)


# -- tokens ------------------------------------------------------------------------------

def test_token_count_is_the_same_every_time_and_grows_with_text():
    text = "Quadratics: factor x² − 5x + 6 into (x − 2)(x − 3)!"
    assert tokens.count_tokens(text) == tokens.count_tokens(text) > 0
    assert tokens.count_tokens("cat") == 1 and tokens.count_tokens("catalogue") == 3 and tokens.count_tokens("!?") == 2
    assert tokens.count_tokens("") == 0
    assert tokens.prompt_tokens([{"role": "user", "content": "cat"}]) == tokens.MESSAGE_OVERHEAD + 1


@given(st.text(max_size=400), st.integers(min_value=0, max_value=80))
def test_truncation_never_exceeds_the_limit_and_keeps_a_prefix(text, limit):
    cut = tokens.truncate_to_tokens(text, limit)
    assert text.startswith(cut) and tokens.count_tokens(cut) <= limit


# -- limits ------------------------------------------------------------------------------

def test_learner_messages_are_stripped_and_bounded():
    assert limits.learner_message("  hi \r\n there ") == "hi \n there"
    assert limits.learner_message("x" * 5000) == "x" * 5000
    for bad in ("", "   ", "x" * 5001, 42):
        with pytest.raises(limits.LimitError):
            limits.learner_message(bad)


def test_rate_allows_ten_a_minute_and_says_when_the_next_is_allowed():
    now = 1_000_000
    sent = [now - 59_000 + i * 1000 for i in range(9)]  # nine in the window
    d = limits.rate_decision(sent, now)
    assert d.allowed and d.window[-1] == now and len(d.window) == 10
    refused = limits.rate_decision(d.window, now + 500)
    assert not refused.allowed and refused.retry_after_s == 1  # the oldest (now-59 s) leaves at now+1 s
    # a send exactly one window old no longer counts
    assert limits.rate_decision([now - 60_000] * 10, now).allowed


def test_settings_layers_apply_only_what_each_may_set():
    base = limits.deployment_defaults({"CHAT_MODEL": "@cf/x/y", "CHAT_LEARNER_DAILY_TOKENS": "900",
                                       "CHAT_PROVIDER": "nonsense", "CHAT_TENANT_DAILY_TOKENS": "-5"})
    assert base["model"] == "@cf/x/y" and base["learner_daily_tokens"] == 900
    assert base["provider"] == "auto" and base["tenant_daily_tokens"] == DEFAULTS["tenant_daily_tokens"]
    eff = limits.effective_settings(base, {"learner_daily_tokens": 800, "model": "@cf/m"},
                                    {"learner_daily_tokens": 700, "model": "@cf/ignored", "course_daily_tokens": 5000},
                                    {"learner_daily_tokens": 600, "tenant_daily_tokens": 1})
    assert (eff["learner_daily_tokens"], eff["course_daily_tokens"], eff["model"]) == (600, 5000, "@cf/m")
    assert eff["tenant_daily_tokens"] == DEFAULTS["tenant_daily_tokens"]  # a learner row cannot raise the tenant's


def test_budget_admits_a_turn_only_if_its_worst_case_fits_every_budget():
    s = {**DEFAULTS, "prompt_budget_tokens": 1000, "reply_max_tokens": 200, "conversation_tokens": 5000,
         "learner_daily_tokens": 3000, "course_daily_tokens": 10_000, "tenant_daily_tokens": 100_000}
    now = 1_700_000_000.0
    assert limits.budget_decision({"conversation": 3800, "learner": 1800}, s, now).allowed
    d = limits.budget_decision({"conversation": 3801}, s, now)
    assert (d.allowed, d.limit, d.retry_after_s) == (False, "conversation", None)
    d = limits.budget_decision({"learner": 1801}, s, now)
    assert (d.allowed, d.limit) == (False, "learner_day") and 0 < d.retry_after_s <= 86_400
    assert "midnight UTC" in d.message
    assert limits.budget_decision({"course": 8801}, s, now).limit == "course_day"
    assert limits.budget_decision({"tenant": 98_801}, s, now).limit == "tenant_day"


def test_cost_units_follow_the_prices_and_offline_is_free():
    s = {**DEFAULTS, "prompt_cost_per_1k": 2.0, "completion_cost_per_1k": 10.0}
    assert limits.cost_units(1000, 500, s, "workers-ai") == 7.0
    assert limits.cost_units(1000, 500, s, "offline") == 0.0


def test_backoff_doubles_and_day_boundaries():
    assert [limits.backoff_ms(n, 500) for n in (1, 2, 3)] == [500, 1000, 2000]
    assert limits.day_of(0) == "1970-01-01" and limits.seconds_to_next_day(86_400 - 10) == 10


# -- prompt ------------------------------------------------------------------------------

LEARNER = {"concept": "Quadratics", "concept_mastery": 0.4,
           "prerequisites": [{"name": "Factoring", "mastery": 0.2}, {"name": "Exponents", "mastery": 0.9}],
           "mastered": ["Exponents"], "struggles": ["repeated error"],
           "last_error": {"question": "Factor x^2-5x+6.", "answer": "(x+2)(x+3)", "misconceptions": ["sign error"]}}
PAGE = {"course": "Algebra I", "title": "Week 3", "concept": "Quadratics"}


def test_system_prompt_is_socratic_and_carries_page_and_learner():
    built = prompt.build_prompt(mode="study", page=PAGE, learner=LEARNER, summary=prompt.empty_summary(),
                                history=[{"role": "user", "content": "help?"}], budget_tokens=3000)
    system = built["messages"][0]["content"]
    assert "Socratic" in system and "Never give the full solution" in system
    assert "Algebra I" in system and "Factoring 20%" in system and "(x+2)(x+3)" in system
    assert "graded Guide conversation" not in system
    graded = prompt.build_prompt(mode="graded", page=PAGE, learner=LEARNER, summary=prompt.empty_summary(),
                                 history=[{"role": "user", "content": "x"}], budget_tokens=3000,
                                 graded={"focus": "Quadratics"})["messages"][0]["content"]
    assert "Do not give hints that reveal the expected answer" in graded and "explain: Quadratics" in graded


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=1500), min_size=1, max_size=30), st.integers(min_value=60, max_value=4000))
def test_prompt_never_exceeds_its_budget_and_keeps_the_newest_message(contents, budget):
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": c} for i, c in enumerate(contents)]
    history[-1]["role"] = "user"
    built = prompt.build_prompt(mode="study", page=PAGE, learner=LEARNER, summary=prompt.empty_summary(),
                                history=history, budget_tokens=budget)
    assert built["prompt_tokens"] == tokens.prompt_tokens(built["messages"]) <= budget
    assert built["messages"][-1]["role"] == "user"
    assert history[-1]["content"].startswith(built["messages"][-1]["content"])


def test_running_summary_stays_bounded_however_long_the_conversation():
    summary = prompt.empty_summary()
    for turn in range(500):
        summary = prompt.fold_summary(summary, [
            {"seq": 2 * turn + 1, "role": "user", "content": f"Question {turn} about Factoring and more words. Next."},
            {"seq": 2 * turn + 2, "role": "assistant", "content": "Fine. What do you think about Exponents?"}],
            ["Factoring", "Exponents"])
    assert summary["turns"] == 500 and summary["through_seq"] == 1000
    assert len(summary["points"]) == prompt.SUMMARY_POINTS and summary["topics"] == ["Factoring", "Exponents"]
    assert "Question 499 about Factoring and more words." in summary["points"][-2]
    assert tokens.count_tokens(prompt.render_summary(summary)) <= prompt.SUMMARY_MAX_TOKENS
    assert prompt.render_summary(prompt.empty_summary()) == ""


# -- the offline Guide -------------------------------------------------------------------

def _turn(message, history=(), learner=LEARNER, mode="study", graded=None):
    return {"message": message, "history": list(history), "page": PAGE, "learner": learner, "mode": mode,
            "graded": graded}


def test_offline_guide_is_deterministic_says_what_it_is_and_ends_with_a_question():
    first = offline.reply(_turn("I'm confused about quadratics"))
    assert first == offline.reply(_turn("I'm confused about quadratics"))
    assert first.startswith(offline.INTRO) and first.rstrip().endswith("?")
    later = offline.reply(_turn("I'm confused about quadratics", [{"role": "assistant", "content": "earlier?"}]))
    assert offline.INTRO not in later


def test_offline_guide_goes_to_the_weakest_prerequisite_then_to_the_last_error():
    reply = offline.reply(_turn("just tell me the answer"))
    assert "won't hand you the answer" in reply and "Factoring, which you have at 20%" in reply
    assert "Exponents" not in reply  # mastered prerequisites are not where the trouble is
    strong = {**LEARNER, "prerequisites": [{"name": "Factoring", "mastery": 0.95}]}
    reply = offline.reply(_turn("why is this wrong?", learner=strong))
    assert '"(x+2)(x+3)"' in reply and "sign error" in reply and reply.endswith("?")


def test_offline_guide_probes_an_explanation_and_does_not_repeat_its_last_question():
    msg = "Quadratics have two roots because the parabola crosses the axis twice when the discriminant is positive"
    first = offline.reply(_turn(msg, [{"role": "assistant", "content": "x?"}]))
    again = offline.reply(_turn(msg, [{"role": "assistant", "content": first}]))
    assert first.split("\" ")[-1] != again.split("\" ")[-1]
    assert any(q.format(focus="Quadratics") in first for q in offline.PROBING_QUESTIONS)


def test_offline_graded_guide_never_names_what_is_missing():
    judged = judge.judge_explanation("A quadratic equation has a squared term and can have two roots",
                                     {"concept": "Quadratics", "expected_concepts": ["squared term", "discriminant"],
                                      "reasoning": [], "misconceptions": []})
    graded = {"focus": "Quadratics", "judgment": judged, "concepts": ["Quadratics"], "questions": ["Why two roots?"]}
    reply = offline.reply(_turn("A quadratic equation has a squared term", [{"role": "assistant", "content": "Go."}],
                                mode="graded", graded=graded))
    assert "squared term" in reply and "discriminant" not in reply and "Why two roots?" in reply
    done = offline.reply(_turn("thanks", [{"role": "assistant", "content": "Go."}], mode="graded",
                               graded={**graded, "focus": None}))
    assert "every concept" in done
    refused = offline.reply(_turn("give me the answer", [{"role": "assistant", "content": "Go."}], mode="graded",
                                  graded=graded))
    assert "graded" in refused


def test_offline_guide_without_context_uses_the_learners_own_words():
    reply = offline.reply({"message": "how does photosynthesis work?", "history": [], "page": {}, "learner": {}})
    assert "photosynthesis" in reply
    assert offline.pieces("a  b c") == ["a", "  b", " c"] and "".join(offline.pieces(reply)) == reply


# -- judging -----------------------------------------------------------------------------

EXPECT = judge.expectation_for("Photosynthesis", [
    {"concept": "photosynthesis", "expected_concepts": ["chlorophyll", "carbon dioxide", "glucose"],
     "expected_reasoning_path": ["light energy is absorbed by chlorophyll", "glucose is produced from carbon dioxide"],
     "common_misconceptions": ["plants get their food from the soil"]},
    {"concept": "Respiration", "expected_concepts": ["mitochondria"]}])


def test_expectations_merge_the_concepts_questions_and_fall_back_to_the_name():
    assert EXPECT["expected_concepts"] == ["chlorophyll", "carbon dioxide", "glucose"]
    assert judge.expectation_for("Osmosis", [], ["Diffusion"])["expected_concepts"] == ["Osmosis", "Diffusion"]


def test_a_complete_explanation_scores_high_a_partial_one_lower_a_misconception_is_penalised():
    full = judge.judge_explanation("Chlorophyll absorbs light energy, and the plant produces glucose from carbon "
                                   "dioxide and water.", EXPECT)
    partial = judge.judge_explanation("Chlorophyll in the leaves captures light so the plant can live and grow.", EXPECT)
    wrong = judge.judge_explanation("Chlorophyll absorbs light energy and glucose comes from carbon dioxide, but "
                                    "plants get their food from the soil.", EXPECT)
    assert full["score"] == 1.0 and full["missing"] == 0
    assert 0 < partial["score"] < full["score"] and partial["missing"] == 2
    assert wrong["misconceptions"] and wrong["score"] == pytest.approx(full["score"] - judge.MISCONCEPTION_PENALTY)
    short = judge.judge_explanation("idk", EXPECT)
    assert (short["judged"], short["score"], short["reason"]) == (False, 0.0, "too_short")


def test_best_scores_never_drop_and_mastery_and_focus_follow_them():
    concepts = ["A", "B"]
    scores = judge.best_scores({}, [{"concept": "A", "score": 0.9, "judged": True},
                                    {"concept": "B", "score": 0.2, "judged": True}])
    scores = judge.best_scores(scores, [{"concept": "A", "score": 0.1, "judged": True},
                                        {"concept": "B", "score": 0.0, "judged": False}])
    assert scores == {"A": 0.9, "B": 0.2}
    assert judge.mastery_score(scores, concepts) == 55.0 and judge.mastery_score(scores, []) == 0.0
    assert judge.next_focus(scores, concepts, 80) == "B" and judge.next_focus({"A": 1, "B": 0.8}, concepts, 80) is None
    assert judge.activity_grade("mastery", 55, 2, 6, scores, concepts, 80) == 50.0
    assert judge.activity_grade("percentage", 55, 2, 6, scores, concepts, 80) == 55.0
    assert judge.activity_grade("engagement", 55, 2, 4, scores, concepts, 80) == 50.0
    assert judge.activity_grade("mastery", 0, 0, 1, {}, [], 80) == 0.0


# -- signals -----------------------------------------------------------------------------

def test_confusion_repeated_questions_and_concepts_touched():
    concepts = ["Factoring", "Quadratics"]
    out = signals.chat_signals("I'm so confused about factoring", [], concepts, "Quadratics")
    assert out[0] == {"kind": "chat_confusion", "concept": "Factoring", "phrase": "i'm so confused"}
    assert out[-1] == {"kind": "chat_concepts", "concepts": ["Factoring"]}
    earlier = ["how do I factor this?", "what is factoring?", "ok thanks"]
    out = signals.chat_signals("why does factoring work?", earlier, concepts, "Quadratics")
    assert not [s for s in out if s["kind"] == "chat_repeated_question"]  # the first named no concept
    earlier = ["what is factoring?", "is factoring always possible?", "ok thanks"]
    out = signals.chat_signals("why does factoring work?", earlier, concepts, "Quadratics")
    assert {"kind": "chat_repeated_question", "concept": "Factoring", "count": 3} in out
    assert signals.chat_signals("ok", [], [], None) == []


# -- server-sent events ------------------------------------------------------------------

def test_sse_parser_reassembles_split_frames_and_reads_both_model_shapes():
    parser = sse.SSEParser()
    raw = 'data: {"response":"Hel"}\n\ndata: {"response":"lo \xe2\x9c\x93"}\n\n: comment\n\ndata: [DONE]\n\n'.encode(
        "latin-1")
    events = []
    for i in range(0, len(raw), 5):  # five bytes at a time, splitting frames and UTF-8 sequences
        events += parser.feed(raw[i:i + 5])
    texts = [sse.model_text(e) for e in events]
    assert [t[0] for t in texts] == ["Hel", "lo ✓", ""] and texts[-1][1] is True
    openai = sse.model_text({"data": '{"choices":[{"delta":{"content":"Hi"}}],"usage":{"prompt_tokens":3}}'})
    assert openai == ("Hi", False, {"prompt_tokens": 3})
    assert sse.model_text({"data": "not json"}) == ("", False, None)
    assert sse.model_text({"data": "[1]"}) == ("", False, None)
    tail = sse.SSEParser()
    assert tail.feed(b"event: x\nid: 7\ndata: {}") == [] and tail.close() == [{"event": "x", "data": "{}", "id": "7"}]


def test_event_ids_round_trip_and_malformed_ones_are_refused():
    assert sse.parse_event_id(sse.event_id(12, 345)) == (12, 345)
    assert sse.parse_event_id(None) is None and sse.parse_event_id("12") is None and sse.parse_event_id("a.b") is None
    assert sse.format_event("delta", {"text": "a\nb"}, "1.2") == b'id: 1.2\nevent: delta\ndata: {"text":"a\\nb"}\n\n'


# -- policy ------------------------------------------------------------------------------

def test_guide_is_off_by_default_on_graded_activities_other_than_guide_conversations():
    assert policy.guide_allowed(None)
    assert policy.guide_allowed({"assessment_type": "chat", "ai_config": {}})
    assert not policy.guide_allowed({"assessment_type": "flashcards", "ai_config": {}})
    assert policy.guide_allowed({"assessment_type": "flashcards", "ai_config": {"graded": False}})
    assert policy.guide_allowed({"assessment_type": "fill_blank", "ai_config": {"guide_enabled": True}})
    assert not policy.guide_allowed({"assessment_type": "chat", "ai_config": {"guide_enabled": False}})


def test_staff_read_only_where_the_tenant_allows_and_the_learner_is_visible():
    visible = {"privacy_settings": {}}
    hidden = {"privacy_settings": {"consent": {"instructor_visibility": False}}}
    assert policy.staff_may_read(True, visible) and not policy.staff_may_read(False, visible)
    assert not policy.staff_may_read(True, hidden)
    assert policy.notices(True, True, True) == [policy.NOTICE_INSTRUCTOR, policy.NOTICE_GRADED, policy.NOTICE_OFFLINE]
    assert not policy.chat_consent({"privacy_settings": {"consent": {"ai_chat": False}}})


def test_a_message_is_judged_on_the_concept_asked_about_and_on_concepts_it_names():
    resp = judge.expectation_for("Respiration", [{"concept": "Respiration", "expected_concepts": ["glucose", "energy"]}])
    text = "Chlorophyll absorbs light energy and the plant makes glucose from carbon dioxide."
    asked = judge.judge_message(text, [EXPECT, resp], "Photosynthesis")
    assert [(j["concept"], j["judged"]) for j in asked] == [("Photosynthesis", True), ("Respiration", False)]
    named = judge.judge_message("Respiration turns glucose into energy the cell can use every day", [EXPECT, resp],
                                "Photosynthesis")
    assert named[1]["judged"] and named[1]["score"] == 1.0
