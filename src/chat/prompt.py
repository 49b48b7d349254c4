"""Prompt building for the Guide, pure: the Socratic system prompt (stricter for a graded
Guide conversation), the page context, a compact learner summary, a running summary of
the turns that left the window, and the last messages, all within a token budget counted
by chat/tokens.py. The stored originals are never changed; only the prompt is cut."""

from __future__ import annotations

import re

from chat.tokens import MESSAGE_OVERHEAD, count_tokens, message_tokens, truncate_to_tokens

HISTORY_MESSAGES = 12  # the last K messages sent verbatim; older ones live in the summary
SUMMARY_POINTS = 12
SUMMARY_TOPICS = 10
SUMMARY_MAX_TOKENS = 250
PAGE_MAX_TOKENS = 150
LEARNER_MAX_TOKENS = 250

RULES_STUDY = (
    "You are the Atomic Guide, a patient Socratic study tutor inside the learner's course. "
    "Guide with questions rather than answers: find out what the learner already thinks, ask one focused "
    "question at a time, and let them do the reasoning. Never give the full solution to an assessed or "
    "graded item; for a worked example, show one step and ask for the next. Build on what the learner has "
    "mastered, go back to a weak prerequisite when that is where the trouble is, and name a misconception "
    "gently when you see one. Keep replies short (under 150 words), plain and encouraging."
)
RULES_GRADED = (
    " This is a graded Guide conversation: the learner's explanations are being assessed. Ask them to "
    "explain the concept in their own words and probe their reasoning. Do not give hints that reveal the "
    "expected answer, do not list the concepts or steps you expect, and do not confirm whether an "
    "explanation is complete; ask a follow-up question instead."
)


# -- running summary ---------------------------------------------------------------------

def empty_summary() -> dict:
    return {"through_seq": 0, "turns": 0, "topics": [], "points": []}


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def _first_sentence(text: str, limit: int = 100) -> str:
    match = _SENTENCE.search(text.strip())
    sentence = (match.group() if match else text).strip()
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def _last_question(text: str, limit: int = 100) -> str:
    questions = [s.strip() for s in _SENTENCE.findall(text) if s.strip().endswith("?")]
    return _first_sentence(questions[-1] if questions else text, limit)


def mentioned_concepts(text: str, concepts: list[str]) -> list[str]:
    """The known concept names that occur in `text` (whole words, any case), in order."""
    lowered = text.lower()
    found = []
    for name in concepts:
        if name and re.search(r"(?<!\w)" + re.escape(name.lower()) + r"(?!\w)", lowered) and name not in found:
            found.append(name)
    return found


def fold_summary(summary: dict, messages: list[dict], concepts: list[str]) -> dict:
    """The summary extended with `messages` (older turns leaving the window, in order):
    each learner turn keeps its first sentence, each Guide turn its last question, and
    the concepts they name; only the most recent points and topics are kept, so the
    summary stays small however long the conversation gets."""
    out = {"through_seq": summary.get("through_seq", 0), "turns": summary.get("turns", 0),
           "topics": list(summary.get("topics", [])), "points": list(summary.get("points", []))}
    for m in messages:
        content = str(m.get("content", ""))
        if m.get("role") == "user":
            out["points"].append("Learner: " + _first_sentence(content))
            out["turns"] += 1
        elif m.get("role") == "assistant":
            out["points"].append("Guide asked: " + _last_question(content))
        for topic in mentioned_concepts(content, concepts):
            if topic in out["topics"]:
                out["topics"].remove(topic)
            out["topics"].append(topic)
        out["through_seq"] = max(out["through_seq"], int(m.get("seq", 0)))
    out["points"] = out["points"][-SUMMARY_POINTS:]
    out["topics"] = out["topics"][-SUMMARY_TOPICS:]
    return out


def render_summary(summary: dict) -> str:
    if not summary.get("turns") and not summary.get("points"):
        return ""
    parts = [f"Earlier in this conversation ({summary.get('turns', 0)} learner turns not shown below)."]
    if summary.get("topics"):
        parts.append("Topics so far: " + ", ".join(summary["topics"]) + ".")
    if summary.get("points"):
        parts.append("Most recent of them: " + " | ".join(summary["points"]))
    return _capped(" ".join(parts), SUMMARY_MAX_TOKENS)


# -- context ------------------------------------------------------------------------------

def _capped(text: str, limit: int) -> str:
    return text if count_tokens(text) <= limit else truncate_to_tokens(text, limit)


def _pct(value: object) -> str:
    try:
        return f"{round(float(value) * 100)}%"
    except (TypeError, ValueError):
        return "unknown"


def page_text(page: dict) -> str:
    parts = []
    if page.get("course"):
        parts.append(f"Course: {page['course']}.")
    if page.get("title"):
        parts.append(f"The learner is on the page \"{page['title']}\".")
    activity = page.get("activity") or {}
    if activity.get("title"):
        parts.append(f"Activity: {activity['title']}.")
    if page.get("concept"):
        parts.append(f"Concept in focus: {page['concept']}.")
    return _capped(" ".join(parts), PAGE_MAX_TOKENS)


def learner_text(learner: dict) -> str:
    parts = []
    if learner.get("concept") and learner.get("concept_mastery") is not None:
        parts.append(f"Mastery of {learner['concept']}: {_pct(learner['concept_mastery'])}.")
    prereqs = learner.get("prerequisites") or []
    if prereqs:
        parts.append("Prerequisites: " + ", ".join(f"{p['name']} {_pct(p.get('mastery'))}" for p in prereqs) + ".")
    mastered = learner.get("mastered") or []
    if mastered:
        parts.append("Mastered: " + ", ".join(mastered[:8]) + ".")
    if learner.get("fading"):
        parts.append("Mastered but fading from memory (due for review): " + ", ".join(learner["fading"][:5]) + ".")
    if learner.get("struggles"):
        parts.append("Current struggle signals: " + "; ".join(learner["struggles"][:4]) + ".")
    error = learner.get("last_error")
    if error:
        text = f"Last error: on \"{_first_sentence(error.get('question', ''), 120)}\" they answered " \
               f"\"{_first_sentence(error.get('answer', ''), 80)}\""
        if error.get("misconceptions"):
            text += " (misconception: " + ", ".join(error["misconceptions"][:2]) + ")"
        parts.append(text + ".")
    return _capped(" ".join(parts), LEARNER_MAX_TOKENS)


def graded_text(graded: dict | None) -> str:
    if not graded:
        return ""
    focus = graded.get("focus")
    return f"Ask the learner to explain: {focus}." if focus else ""


def system_prompt(mode: str, page: dict, learner: dict, summary: dict, graded: dict | None = None) -> str:
    rules = RULES_STUDY + (RULES_GRADED if mode == "graded" else "")
    sections = [rules]
    context = " ".join(filter(None, (page_text(page), learner_text(learner), graded_text(graded))))
    if context:
        sections.append("Context: " + context)
    earlier = render_summary(summary)
    if earlier:
        sections.append(earlier)
    return "\n\n".join(sections)


# -- the prompt ---------------------------------------------------------------------------

def build_prompt(*, mode: str, page: dict, learner: dict, summary: dict, history: list[dict],
                 budget_tokens: int, graded: dict | None = None) -> dict:
    """The messages for the model and their token count (always <= budget_tokens).

    `history` is the conversation's recent messages in order (learner and Guide turns
    only), ending with the learner message to answer. The newest messages are kept
    first; an over-long newest message is shortened in the prompt (never in storage);
    older ones are dropped and stay represented by the running summary."""
    system = {"role": "system", "content": system_prompt(mode, page, learner, summary, graded)}
    turns = [{"role": m["role"], "content": str(m["content"])} for m in history[-HISTORY_MESSAGES:]
             if m.get("role") in ("user", "assistant")]
    # The system part may take at most half of the budget; the rest is for the turns.
    cap = max(MESSAGE_OVERHEAD + 1, budget_tokens // 2)
    if message_tokens(system) > cap:
        system["content"] = truncate_to_tokens(system["content"], cap - MESSAGE_OVERHEAD)
    left = budget_tokens - message_tokens(system)
    kept: list[dict] = []
    for m in reversed(turns):
        cost = message_tokens(m)
        if cost > left:
            if not kept and left > MESSAGE_OVERHEAD:  # the newest message always goes, shortened
                short = {"role": m["role"], "content": truncate_to_tokens(m["content"], left - MESSAGE_OVERHEAD)}
                kept.append(short)
                left -= message_tokens(short)
            break
        kept.append(m)
        left -= cost
    messages = [system, *reversed(kept)]
    total = budget_tokens - left
    return {"messages": messages, "prompt_tokens": total, "history_used": len(kept),
            "history_dropped": len(turns) - len(kept)}


def reply_tokens(text: str) -> int:
    return count_tokens(text)
