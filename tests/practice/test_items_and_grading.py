"""Import files read with every bad row named by its line; one item's rules; an
activity's grade by schema; the offline drafter (deterministic, built from the text)."""

import json

import pytest

from practice import drafting, grading, items


def test_the_csv_template_and_the_json_template_import_cleanly():
    csv_parsed = items.parse(items.TEMPLATE_CSV, "csv")
    json_parsed = items.parse(items.TEMPLATE_JSON, "json")
    assert csv_parsed.problems == [] and len(csv_parsed.items) == 3
    assert json_parsed.problems == [] and len(json_parsed.items) == 2
    first = csv_parsed.items[0][2]
    assert first.answers == ("0.5", "1/2") and first.misconceptions[0][0] == "2" and first.hints[1] == \
        "It is less than one."


def test_csv_problems_are_reported_with_their_physical_line():
    text = ("format,concept,prompt,answers\n"
            "fill_blank,a,Ok ___,x\n"
            "\n"
            "fill_blank,a,\"a prompt over\ntwo lines without a gap\",x\n"
            "flashcard,a,,\n"
            "fill_blank,bad concept!,x ___,y\n")
    parsed = items.parse(text, "csv")
    found = {(p.line, p.field) for p in parsed.problems}
    assert (4, "prompt") in found              # the row starting on line 4 (its cell spans two lines)
    assert (6, "front") in found and (6, "back") in found
    assert (7, "concept") in found
    assert len(parsed.items) == 1


def test_csv_header_problems_stop_at_line_one():
    parsed = items.parse("format,concept,colour\nfill_blank,a,red\n", "csv")
    assert [(p.line, p.field) for p in parsed.problems] == [(1, "colour")]
    parsed = items.parse("prompt,answers\nx ___,y\n", "csv")
    assert {p.field for p in parsed.problems} == {"format", "concept"}
    assert items.parse("", "csv").problems[0].problem == "the file is empty"


def test_a_row_with_the_wrong_number_of_cells_is_named():
    parsed = items.parse("format,concept,prompt,answers\nfill_blank,a,x ___\n", "csv")
    assert parsed.problems[0].line == 2 and "cells" in parsed.problems[0].problem


def test_json_problems_carry_the_item_number_and_its_line():
    doc = '{"items": [\n  {"format": "fill_blank", "concept": "a", "prompt": "x ___", "answers": ["y"]},\n' \
          '  {"format": "fill_blank", "concept": "a", "prompt": "no gap", "answers": []},\n' \
          '  {"format": "quiz", "concept": "a"}\n]}'
    parsed = items.parse(doc, "json")
    assert len(parsed.items) == 1
    assert {(p.line, p.item, p.field) for p in parsed.problems} >= {(3, 2, "prompt"), (3, 2, "answers"),
                                                                    (4, 3, "format")}


def test_json_documents_of_the_wrong_shape_or_syntax_are_refused_whole():
    assert "not valid JSON" in items.parse('{"items": [', "json").problems[0].problem
    assert items.parse('{"things": []}', "json").problems[0].line == 1
    assert items.parse("[]", "json").problems[0].problem == "the file has no items"
    assert items.parse('"text"', "json").problems[0].line == 1
    array = items.parse('[{"format": "flashcard", "concept": "a", "front": "f", "back": "b"}]', "json")
    assert array.problems == [] and array.items[0][2].front == "f"


def test_item_rules():
    ok, problems = items.validate({"format": "fill_blank", "concept": "a", "prompt": "x ___", "answers": ["y"],
                                   "difficulty": "7", "approved": "no", "numeric_tolerance": "0.1"})
    assert problems == [] and ok.difficulty == 7 and ok.approved is False and ok.numeric_tolerance == 0.1
    _, problems = items.validate({"format": "flashcard", "concept": "a", "front": "f", "back": "b", "prompt": "p",
                                  "difficulty": 11, "bloom": "memorise", "colour": "red", "hints": ["h"] * 6,
                                  "misconceptions": [{"answer": "x"}], "ref": "bad ref", "approved": "maybe",
                                  "estimated_time_seconds": 0, "numeric_tolerance": -1})
    fields = {f for f, _ in problems}
    assert fields == {"prompt", "difficulty", "bloom", "colour", "hints", "misconceptions", "ref", "approved",
                      "estimated_time_seconds", "numeric_tolerance"}
    assert items.validate("not an object")[0] is None


def test_the_same_ref_twice_in_a_file_is_a_problem():
    doc = json.dumps([{"format": "flashcard", "concept": "a", "front": "f", "back": "b", "ref": "r1"}] * 2)
    parsed = items.parse(doc, "json")
    assert [p.item for p in items.duplicates(parsed)] == [2]


def test_too_many_items_are_refused_before_reading_them():
    doc = json.dumps([{"format": "flashcard", "concept": "a", "front": "f", "back": "b"}] * (items.MAX_ITEMS + 1))
    assert "at most" in items.parse(doc, "json").problems[0].problem


def test_a_stored_row_reads_back_as_the_same_item():
    spec, _ = items.validate({"format": "fill_blank", "concept": "a", "also_concepts": ["b"], "prompt": "x ___",
                              "answers": ["y", "z"], "hints": ["h1", "h2"],
                              "misconceptions": [{"answer": "w", "feedback": "no"}], "ref": "r"})
    row = {"id": "1", **items.row_values(spec)}
    assert items.from_row(row) == spec


@pytest.mark.parametrize("schema, score", [("mastery", 50.0), ("percentage", 75.0), ("engagement", 40.0)])
def test_grades_by_schema(schema, score):
    g = grading.grade(schema, ["a", "b"], {"a"}, attempts=8, correct=6, threshold=50, engagement_target=20)
    assert g.score == score and g.mastered and (g.concepts_mastered, g.concept_count) == (1, 2)


def test_engagement_is_capped_and_mastery_needs_the_threshold():
    g = grading.grade("engagement", ["a", "b"], {"a"}, 50, 10, threshold=80, engagement_target=20)
    assert g.score == 100.0 and not g.mastered
    assert grading.grade("percentage", ["a"], set(), 0, 0, 80, 20).score == 0.0
    with pytest.raises(ValueError):
        grading.grade("vibes", ["a"], set(), 0, 0, 80, 20)
    assert "1 of 2 concept(s) mastered" in grading.comment(g, "engagement", 80)


TEXT = """Photosynthesis — the process by which green plants use light to make glucose from carbon dioxide and water.
Chlorophyll is the green pigment that absorbs light energy. Respiration: the process that releases energy from glucose.
In photosynthesis, chlorophyll captures light in the chloroplasts. The chloroplasts are found in leaf cells.
Glucose made in photosynthesis is stored as starch. Respiration happens in every living cell, day and night."""
CONCEPTS = [("photo", "Photosynthesis"), ("resp", "Respiration")]


def test_flashcards_come_from_term_definition_sentences():
    cards = drafting.draft(TEXT, "flashcard", CONCEPTS)
    fronts = {c["front"]: c for c in cards}
    assert set(fronts) == {"Photosynthesis", "Chlorophyll", "Respiration"}
    assert fronts["Chlorophyll"]["back"] == "The green pigment that absorbs light energy"
    assert fronts["Respiration"]["concept"] == "resp" and fronts["Photosynthesis"]["concept"] == "photo"


def test_cloze_items_blank_key_terms_and_every_one_is_a_valid_item():
    cloze = drafting.draft(TEXT, "fill_blank", CONCEPTS)
    assert len(cloze) >= 5
    for c in cloze:
        spec, problems = items.validate(c)
        assert problems == [], (c, problems)
        assert "_____" in c["prompt"]
        for m in c["misconceptions"]:  # distractors: other key terms of the text, not in this sentence
            assert m["answer"].lower() not in c["prompt"].lower() and m["feedback"].startswith(f"“{m['answer']}”")
    chloroplast = next(c for c in cloze if c["answers"][0].lower() == "chloroplasts")
    assert "chloroplast" in [a.lower() for a in chloroplast["answers"]]  # singular accepted too
    respiration = next(c for c in cloze if c["answers"][0] == "Respiration" and "happens" in c["prompt"])
    assert any("releases energy" in h for h in respiration["hints"])  # its definition as a hint
    assert any(m["answer"] == "Respiration" for m in chloroplast["misconceptions"])


def test_the_same_text_always_drafts_the_same_items():
    assert drafting.draft(TEXT, "fill_blank", CONCEPTS) == drafting.draft(TEXT, "fill_blank", CONCEPTS)


def test_nothing_is_drafted_from_nothing():
    assert drafting.draft("", "fill_blank", CONCEPTS) == []
    assert drafting.draft(TEXT, "fill_blank", []) == []
    assert drafting.draft("Short. Tiny.", "flashcard", CONCEPTS) == []
