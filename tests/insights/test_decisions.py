"""The insight pages' pure parts as specifications: the snapshot (consent rule, ordering,
aggregates), charts (colours, text alternatives, escaping), CSV escaping, study time and
streaks, what unlocks next."""

import csv
import io

from insights import charts, csv_export, progress, snapshot
from insights.snapshot import CellState, CourseRows


def _rows(learners, cells=None, events=(), interventions=(), min_group=5, concepts=None):
    return CourseRows(
        context_id="c1", day="2026-03-10", computed_at="2026-03-10T03:00:00.000Z",
        concepts=concepts or [{"id": "a", "name": "Alpha", "prerequisites": []},
                              {"id": "b", "name": "Beta", "prerequisites": ["a"]}],
        learners=learners, cells=cells or {}, events=list(events), interventions=list(interventions),
        min_group=min_group)


def _learner(i, visible=True):
    return {"id": f"L{i}", "lti_user_id": f"u{i}", "visible": visible}


def test_prerequisite_order_puts_every_prerequisite_first_and_survives_a_cycle():
    order = snapshot.prerequisite_order([
        {"id": "c", "name": "C", "prerequisites": ["b"]}, {"id": "b", "name": "B", "prerequisites": ["a"]},
        {"id": "a", "name": "A", "prerequisites": []}, {"id": "z", "name": "Zed", "prerequisites": ["missing"]}])
    ids = [c["id"] for c in order]
    assert ids.index("a") < ids.index("b") < ids.index("c")
    assert [c["depth"] for c in order if c["id"] in "abc"] == [0, 1, 2]
    looped = snapshot.prerequisite_order([{"id": "x", "name": "X", "prerequisites": ["y"]},
                                          {"id": "y", "name": "Y", "prerequisites": ["x"]}])
    assert sorted(c["id"] for c in looped) == ["x", "y"]


def test_hidden_learners_count_in_aggregates_only_when_at_least_min_group_of_them():
    cells = {f"L{i}": {"a": CellState(1.0 if i < 3 else 0.0, 5, "mastered" if i < 3 else "learning")}
             for i in range(8)}
    few_hidden = [_learner(i, visible=i >= 2) for i in range(8)]     # 2 hidden
    summary, pages = snapshot.build(_rows(few_hidden, cells))
    alpha = summary["concepts"][0]
    assert summary["learners"]["hidden_counted"] is False and alpha["learners"] == 6
    assert alpha["mastered"] == 1  # only L2 of the visible ones; L0 and L1 are hidden and not counted
    many_hidden = [_learner(i, visible=i >= 5) for i in range(8)]    # 5 hidden
    summary, _ = snapshot.build(_rows(many_hidden, cells))
    assert summary["learners"]["hidden_counted"] is True and summary["concepts"][0]["mastered"] == 3
    # hidden learners are kept in the pages (the page filters them), last and marked
    assert [r["h"] for r in pages[0]][-2:] == [True, True]


def test_attention_first_then_by_name_and_flags_name_only_visible_learners():
    learners = [_learner(i) for i in range(4)] + [_learner(9, visible=False)]
    cells = {"L2": {"a": CellState(0.3, 12, "learning")}}  # wheel-spinning
    events = [{"learner_id": "L3", "reason": "idle", "concept": "a", "score": 0.5, "at": "2026-03-09T10:00:00.000Z"},
              {"learner_id": "L9", "reason": "idle", "concept": "a", "score": 0.5, "at": "2026-03-09T11:00:00.000Z"},
              {"learner_id": "L1", "reason": "idle", "concept": "a", "score": 0.5, "at": "2026-02-01T11:00:00.000Z"}]
    summary, pages = snapshot.build(_rows(learners, cells, events))
    order = [r["id"] for r in pages[0]]
    assert order[:2] == ["L3", "L2"] and order[-1] == "L9"
    assert [f["learner_id"] for f in summary["flags"]] == ["L3"]  # L9 hidden, L1 outside the 7 days
    assert summary["learners"]["attention"] == 2
    row = next(r for r in pages[0] if r["id"] == "L2")
    assert row["a"] == ["wheel_spinning"] and row["c"]["a"] == [0.3, "l", 12] and row["c"]["b"] == [None, "n", 0]


def test_concept_aggregates_histogram_and_trend_point():
    learners = [_learner(i) for i in range(5)]
    values = [0.1, 0.3, 0.5, 0.97, None]
    cells = {f"L{i}": ({"a": CellState(v, 4, "mastered" if v >= 0.95 else "learning")} if v is not None else {})
             for i, v in enumerate(values)}
    summary, _ = snapshot.build(_rows(learners, cells))
    a = summary["concepts"][0]
    assert a["histogram"] == [1, 1, 1, 0, 1] and a["not_started"] == 1 and a["mastered"] == 1
    assert a["mean_mastery"] == round((0.1 + 0.3 + 0.5 + 0.97) / 5, 4)
    assert a["lowest"] == ["L0", "L1", "L2"]
    assert summary["trend"][-1]["day"] == "2026-03-10" and summary["trend"][-1]["mastered_share"] == 0.1


def test_trend_keeps_earlier_days_within_the_window_and_replaces_the_same_day():
    previous = [{"day": "2025-12-01"}, {"day": "2026-03-01", "mean_mastery": 0.2}, {"day": "2026-03-10"}]
    rows = _rows([_learner(0)])
    rows.previous_trend = previous
    summary, _ = snapshot.build(rows)
    assert [p["day"] for p in summary["trend"]] == ["2026-03-01", "2026-03-10"]


def test_help_counts_outcomes_per_kind_over_counted_learners():
    helps = [{"learner_id": "L0", "kind": "hint", "outcome": "accepted", "at": "2026-03-09T00:00:00.000Z"},
             {"learner_id": "L0", "kind": "hint", "outcome": None, "at": "2026-03-09T00:00:00.000Z"},
             {"learner_id": "L1", "kind": "hint", "outcome": "accepted", "at": "2026-03-09T00:00:00.000Z"}]
    summary, _ = snapshot.build(_rows([_learner(0), _learner(1, visible=False)], interventions=helps))
    assert summary["help"] == [{"kind": "hint", "offered": 2, "accepted": 1, "dismissed": 0, "ignored": 0,
                                "pending": 1}]


def test_viridis_is_ordered_and_text_contrasts_with_its_cell():
    assert charts.viridis(0) == charts.VIRIDIS[0] and charts.viridis(1) == charts.VIRIDIS[-1]
    assert charts.viridis(-3) == charts.VIRIDIS[0] and charts.viridis(7) == charts.VIRIDIS[-1]
    assert charts.ink_on(charts.VIRIDIS[0]) == "#ffffff" and charts.ink_on(charts.VIRIDIS[-1]) == "#000000"


def test_heatmap_prints_each_value_has_a_text_alternative_and_escapes_labels():
    rows = [charts.Axis("r1", "<b>Ann</b>", "/x?a=1&b=2")]
    cols = [charts.Axis("c1", "Fractions"), charts.Axis("c2", "Ratios")]
    svg = charts.heatmap("h", "Title", "What it shows", rows, cols, {("r1", "c1"): charts.Cell(0.834, "learning")})
    assert '<title id="h-title">Title</title>' in svg and '<desc id="h-desc">What it shows</desc>' in svg
    assert ">83</text>" in svg and ">–</text>" in svg
    assert "<b>" not in svg and "&lt;b&gt;Ann&lt;/b&gt;" in svg and "a=1&amp;b=2" in svg
    assert "style=" not in svg
    table = charts.heatmap_table("t", "cap", rows, cols, {("r1", "c1"): charts.Cell(0.834)})
    assert "<td>83%</td>" in table and "<td>–</td>" in table


def test_other_charts_draw_their_values_and_empty_states():
    assert "Nothing to show yet" in charts.bars("b", "t", "d", [])
    bar = charts.bars("b", "t", "d", [charts.Bar("A", 3, "3 learners")])
    assert "3 learners" in bar and "<desc" in bar
    stacked = charts.stacked_bars("s", "t", "d", [("Hint", [2, 0, 1, 0])], ["accepted", "dismissed", "ignored", "x"])
    assert ">2</text>" in stacked and ">3</text>" in stacked and "accepted" in stacked
    line = charts.trend("l", "t", "d", [("03-01", {"m": 0.5}), ("03-02", {"m": 0.75})], [("m", "Mastery")])
    assert "<polyline" in line and "Mastery 75%" in line
    assert "No snapshots yet" in charts.trend("l", "t", "d", [], [("m", "M")])


def test_csv_cells_that_spreadsheets_would_run_as_formulas_are_escaped():
    text = csv_export.to_csv(["name", "score"], [["=HYPERLINK(\"x\")", 1.5], ["+1", -2], ["-x", None],
                                                 ["@SUM(A1)", True], ["\tlead", 0], ["\rcr", 3], ["plain", 0.1234567]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "score"]
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"x\")", "'+1", "'-x", "'@SUM(A1)", "'\tlead", "'\rcr", "plain"]
    assert [r[1] for r in rows[1:]] == ["1.5", "-2", "", "true", "0", "3", "0.123457"]
    assert text.endswith("\r\n")
    assert csv_export.filename("atomic-guide", "course/../1", "heatmap") == "atomic-guide-course_.._1-heatmap.csv"


def test_study_time_caps_each_answer_and_the_streak_runs_up_to_today_or_yesterday():
    answers = [("2026-03-10T09:00:00.000Z", 30), ("2026-03-09T09:00:00.000Z", 5000),
               ("2026-03-08T09:00:00.000Z", 60), ("2026-03-01T09:00:00.000Z", 60)]
    s = progress.study_summary(answers, ["2026-03-07T08:00:00.000Z"], "2026-03-10")
    assert s["streak_days"] == 4 and s["longest_streak_days"] == 4 and s["studied_today"]
    assert s["minutes_7d"] == round((30 + 600 + 60) / 60, 1) and s["minutes_total"] == round((30 + 600 + 120) / 60, 1)
    later = progress.study_summary(answers, [], "2026-03-11")   # today not studied yet: the streak holds
    assert later["streak_days"] == 3 and not later["studied_today"]
    assert progress.study_summary(answers, [], "2026-03-13")["streak_days"] == 0


def test_unlocks_names_what_mastering_a_concept_opens():
    concepts = [{"id": "a", "prerequisites": []}, {"id": "b", "prerequisites": ["a"]},
                {"id": "c", "prerequisites": ["a", "x"]}, {"id": "d", "prerequisites": ["b"]}]
    assert progress.unlocks(concepts, mastered={"x"}) == {"a": ["b", "c"], "b": ["d"]}
    assert progress.unlocks(concepts, mastered={"a", "b", "x"}) == {}
