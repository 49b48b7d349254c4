"""The practice pages, server-rendered: the learner page never carries keys or unapproved
items (read from its source), works without script (forms post back), answers in place
for the script (fragments); the instructor's activity and question-bank pages."""

import re
from html import unescape

from tests.conftest import LEARNER
from tests.practice.helpers import (activity, card, course, fill_item, import_items, launch_learner, learner_token,
                                    rows, teacher)
from tests.conftest import INSTRUCTOR, token


def _teacher_token(host):
    return token(host, user="teacher-1", roles=[INSTRUCTOR])


async def _setup(client, host, items, type_="fill_blank"):
    await course(client, host)
    a = await activity(host, type_=type_)
    await import_items(client, host, items)
    await launch_learner(host)
    return a


def _form(html: str, form_id: str) -> tuple[str, dict]:
    form = re.search(rf'<form[^>]*action="([^"]+)"[^>]*id="{form_id}"(.*?)</form>', html, re.S)
    assert form, form_id
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    return unescape(form.group(1)), fields


async def test_the_learner_page_source_holds_no_key_no_misconception_and_no_unapproved_item(host, client):
    a = await _setup(client, host, [
        fill_item(prompt="Two plus two is ___.", answers=["four-secret"], hints=["hint-secret"],
                  misconceptions=[{"answer": "wrong-secret", "feedback": "feedback-secret"}]),
        fill_item(prompt="Draft-secret ___.", approved=False)])
    page = await client.get(f"/app/practice?ltik={learner_token(host)}")
    assert page.status_code == 200
    assert "Two plus two is ___." in page.text
    for secret in ("four-secret", "hint-secret", "wrong-secret", "feedback-secret", "Draft-secret"):
        assert secret not in page.text
    assert 'aria-labelledby="item-title"' in page.text and '<label for="answer-input">' in page.text
    assert re.search(r'src="/static/practice\.[0-9a-f]+\.js"', page.text)
    assert 'href="/app/practice?ltik=' in page.text  # its place in the nav


async def test_without_script_the_learner_answers_by_posting_the_form(host, client):
    await _setup(client, host, [fill_item(hints=["Count to four."])])
    ltik = learner_token(host)
    page = await client.get(f"/app/practice?ltik={ltik}")
    action, fields = _form(page.text, "answer-form")
    hinted = await client.post(action, data={**fields, "action": "hint"})
    assert hinted.status_code == 200 and "Count to four." in hinted.text
    done = await client.post(action, data={**fields, "action": "answer", "response": "FOUR"})
    assert done.status_code == 200 and 'id="feedback"' in done.text and "Correct" in done.text
    again = await client.post(action, data={**fields, "action": "answer", "response": "FOUR"})  # a double submit
    assert again.status_code == 200
    assert rows(host, "SELECT count(*), max(hints_used) FROM question_responses") == [(1, 1)]


async def test_the_script_gets_just_the_practice_area_back(host, client):
    await _setup(client, host, [fill_item()])
    page = await client.get(f"/app/practice?ltik={learner_token(host)}")
    action, fields = _form(page.text, "answer-form")
    r = await client.post(action, data={**fields, "action": "answer", "response": "5"},
                          headers={"X-AG-Fragment": "1"})
    assert r.status_code == 200 and r.text.startswith('<section id="feedback"') and "<html" not in r.text
    assert "Not quite" in r.text and "The expected answer" in r.text


async def test_a_flashcard_is_turned_and_graded_without_script(host, client):
    await _setup(client, host, [card(back="back-secret")], type_="flashcards")
    page = await client.get(f"/app/practice?ltik={learner_token(host)}")
    assert "back-secret" not in page.text
    action, fields = _form(page.text, "reveal-form")
    turned = await client.post(action, data={**fields, "action": "reveal"})
    assert "back-secret" in turned.text and 'id="grade-good"' in turned.text
    action, fields = _form(turned.text, "grade-form")
    graded = await client.post(action, data={**fields, "grade": "easy"})
    assert graded.status_code == 200 and "Recalled easily" in graded.text
    assert rows(host, "SELECT response_text FROM question_responses") == [("easy",)]


async def test_page_errors_are_readable_and_change_nothing(host, client):
    a = await _setup(client, host, [fill_item()])
    ltik = learner_token(host)
    page = await client.get(f"/app/practice?ltik={ltik}")
    action, fields = _form(page.text, "answer-form")
    blank = await client.post(action, data={**fields, "action": "answer", "response": ""})
    assert blank.status_code == 422 and 'id="practice-error"' in blank.text
    stale = await client.post(action, data={**fields, "presentation": "", "action": "answer", "response": "4"})
    assert stale.status_code == 409
    nothing = await client.post(action, data={**fields, "action": "dance"})
    assert nothing.status_code == 400
    await client.patch(f"/api/activities/{a['id']}", json={"status": "closed"}, headers=teacher(host))
    closed = await client.get(f"/app/practice?ltik={ltik}")
    assert 'id="closed-note"' in closed.text and 'id="answer-form"' not in closed.text
    assert rows(host, "SELECT count(*) FROM question_responses") == [(0,)]


async def test_a_launch_without_an_activity_and_instructors_are_told_where_to_go(host, client):
    await launch_learner(host)
    none = await client.get(f"/app/practice?ltik={token(host, roles=[LEARNER])}")
    assert none.status_code == 200 and 'id="practice-none"' in none.text
    teacher_view = await client.get(f"/app/practice?ltik={_teacher_token(host)}")
    assert "/app/activities" in teacher_view.text


async def test_the_instructor_activity_page_shows_mastery_grades_and_settings(host, client):
    a = await _setup(client, host, [fill_item()])
    ltik = _teacher_token(host)
    page = await client.get(f"/app/activities/{a['id']}?ltik={ltik}")
    assert page.status_code == 200
    for part in ('id="mastery-count"', 'id="grades-title"', 'id="settings-form"', 'id="draft-form"',
                 '<label for="set-threshold">'):
        assert part in page.text
    action, _ = _form(page.text, "settings-form")
    saved = await client.post(action, data={"action": "settings", "title": "Renamed", "mastery_threshold": "70",
                                            "grading_schema": "engagement", "engagement_target": "5",
                                            "typo_tolerance": "2", "status": "closed",
                                            "closes_at": "2031-05-01T10:00"}, follow_redirects=False)
    assert saved.status_code == 303 and "notice=settings" in saved.headers["location"]
    assert rows(host, "SELECT title, grading_schema, status, closes_at FROM assessment_configs") == \
        [("Renamed", "engagement", "closed", "2031-05-01T10:00:00.000Z")]
    bad = await client.post(action, data={"action": "settings", "title": "", "mastery_threshold": "x",
                                          "grading_schema": "vibes", "status": "maybe", "closes_at": "soon"})
    assert bad.status_code == 422 and 'id="form-errors"' in bad.text and "Mastery threshold" in bad.text
    listing = await client.get(f"/app/activities?ltik={ltik}")
    assert "Renamed" in listing.text and 'id="activities-table"' in listing.text
    learner = await client.get(f"/app/activities/{a['id']}?ltik={learner_token(host)}", follow_redirects=False)
    assert learner.status_code == 303 and "/app/practice" in learner.headers["location"]
    other = await client.get(f"/app/activities/not-an-activity?ltik={ltik}")
    assert other.status_code == 404


async def test_drafting_on_the_activity_page_then_approving_puts_items_before_learners(host, client):
    await course(client, host, concepts=[{"id": "p-photo", "name": "Photosynthesis"}])
    a = await activity(host, concepts=("p-photo",))
    await launch_learner(host)
    ltik = _teacher_token(host)
    page = await client.get(f"/app/activities/{a['id']}?ltik={ltik}")
    action, _ = _form(page.text, "draft-form")
    text = ("Photosynthesis — the process by which plants make glucose from light. Chlorophyll is the green "
            "pigment that absorbs light. Chlorophyll sits in the chloroplasts of leaf cells.")
    drafted = await client.post(action, data={"action": "draft", "text": text}, follow_redirects=True)
    assert "notice=draft" in str(drafted.url) and "Draft item 1" in drafted.text
    learner_before = await client.get(f"/app/practice?ltik={learner_token(host)}")
    assert 'id="no-items"' in learner_before.text  # nothing drafted reaches learners before approval
    draft_id = rows(host, "SELECT id FROM generated_content")[0][0]
    form = re.search(rf'<form[^>]*id="draft-{draft_id}".*?</form>', drafted.text, re.S).group(0)
    count = int(re.search(r'name="count" value="(\d+)"', form).group(1))
    data = {"action": "draft-approve", "draft": draft_id, "count": str(count)}
    for i in range(count):
        for name in ("prompt", "answers", "hints", "front", "back", "difficulty"):
            m = re.search(rf'name="{name}_{i}"[^>]*>([^<]*)</textarea>', form) or \
                re.search(rf'name="{name}_{i}" value="([^"]*)"', form)
            if m:
                data[f"{name}_{i}"] = unescape(m.group(1))
        data[f"concept_{i}"] = "p-photo"
    data["prompt_0"] = data["prompt_0"].replace("process", "PROCESS")  # an edit before approval
    pairs = list(data.items()) + [("include", "0")]
    approved = await client.post(action, content="&".join(f"{k}={_q(v)}" for k, v in pairs),
                                 headers={"content-type": "application/x-www-form-urlencoded"}, follow_redirects=False)
    assert approved.status_code == 303 and "notice=approved" in approved.headers["location"]
    assert rows(host, "SELECT status, approved FROM generated_content") == [("approved", 1)]
    stored = rows(host, "SELECT question_text, is_validated, source FROM questions")
    assert len(stored) == 1 and "PROCESS" in stored[0][0] and stored[0][1:] == (1, "draft")
    learner_after = await client.get(f"/app/practice?ltik={learner_token(host)}")
    assert "PROCESS" in learner_after.text


def _q(v: str) -> str:
    from urllib.parse import quote_plus

    return quote_plus(v)


async def test_the_question_bank_page_imports_reviews_approves_retires_and_edits(host, client):
    await course(client, host)
    ltik = _teacher_token(host)
    page = await client.get(f"/app/question-bank?ltik={ltik}")
    assert page.status_code == 200 and 'id="template-csv"' in page.text and 'id="bank-empty"' in page.text
    template = re.search(r'href="(/static/question-bank-template\.[0-9a-f]+\.csv)"', page.text).group(1)
    assert (await client.get(template)).text.startswith("format,concept,")
    action, _ = _form(page.text, "import-form")
    bad_csv = "format,concept,prompt,answers\nfill_blank,p-counting,no gap,4\n"
    refused = await client.post(action, data={"action": "import", "kind": "csv", "text": bad_csv})
    assert refused.status_code == 422 and "line 2" in refused.text and "prompt" in refused.text
    assert bad_csv.split("\n")[1] in unescape(refused.text)  # the pasted text is kept to fix
    good_csv = ("format,concept,prompt,answers,approved\nfill_blank,p-counting,Two and two make ___.,4,false\n"
                "fill_blank,p-addition,One and one make ___.,2,true\n")
    done = await client.post(action, data={"action": "import", "kind": "csv", "text": good_csv},
                             follow_redirects=True)
    assert "notice=imported" in str(done.url) and 'id="bank-table"' in done.text
    waiting = rows(host, "SELECT id FROM questions WHERE is_validated = 0")[0][0]
    await client.post(action, data={"action": "approve", "item": waiting})
    assert rows(host, "SELECT count(*) FROM questions WHERE is_validated = 1") == [(2,)]
    await client.post(action, data={"action": "retire", "item": waiting})
    assert rows(host, "SELECT is_active FROM questions WHERE id = ?", (waiting,)) == [(0,)]
    edit = await client.get(f"/app/question-bank/items/{waiting}?ltik={ltik}")
    assert edit.status_code == 200 and '<label for="i-prompt">' in edit.text
    eaction, _ = _form(edit.text, "item-form")
    saved = await client.post(eaction, data={"prompt": "Two and two make ___!", "answers": "4\nfour",
                                             "concept": "p-counting", "hints": "Add.", "difficulty": "3",
                                             "misconceptions": "22 => That is 2 next to 2.", "status": "active",
                                             "approved": "1"}, follow_redirects=False)
    assert saved.status_code == 303
    assert rows(host, "SELECT question_text, is_active, difficulty_level FROM questions WHERE id = ?", (waiting,)) \
        == [("Two and two make ___!", 1, 3)]
    broken = await client.post(eaction, data={"prompt": "no gap", "answers": "", "concept": "p-counting",
                                              "difficulty": "x"})
    assert broken.status_code == 422 and 'id="form-errors"' in broken.text
    learner = await client.get(f"/app/question-bank?ltik={learner_token(host)}")
    assert learner.status_code == 403
    json_bad = await client.post(action, data={"action": "import", "kind": "json", "text": "{nope"})
    assert json_bad.status_code == 400
    huge = await client.post(action, data={"action": "import", "kind": "csv", "text": "x" * (66 * 1024)})
    assert huge.status_code in (413,)
