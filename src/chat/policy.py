"""Who may use the Guide where, pure: the learner's consent, the instructor's switch per
activity (off by default on graded activities other than Guide conversations), which
course an activity belongs to, and the notices the panel shows before the first message."""

from __future__ import annotations

import json

import privacy

GUIDE_ACTIVITY_TYPE = "chat"  # seed 002's assessment_type of a Guide conversation

CONSENT_OFF = ("You turned off the AI Guide in your privacy settings, so no message is sent to it. "
               "You can turn it back on under Your data.")
GUIDE_OFF = "Your instructor turned the Guide off for this activity."
NOTICE_INSTRUCTOR = "Your instructor can read this conversation."
NOTICE_GRADED = ("This Guide conversation is graded: your explanations are assessed, and the Guide will not "
                 "give away answers.")
NOTICE_OFFLINE = "The offline Guide is answering: no AI model is connected, so it works with guiding questions."


def chat_consent(profile: dict) -> bool:
    return privacy.consent(profile.get("privacy_settings"))["ai_chat"]


def ai_config(activity: dict) -> dict:
    """The activity's ai_config as a dict, whichever way the row was read (decoded by the
    Guide's service, still JSON text in the practice service's rows)."""
    value = activity.get("ai_config")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def activity_course(activity: dict) -> str | None:
    """The course an activity belongs to, as recorded when it was created: the row's
    course_context (migration 0009), or ai_config's for rows written before it."""
    value = activity.get("course_context") or ai_config(activity).get("course_context")
    return value if isinstance(value, str) else None


def is_guide_activity(activity: dict) -> bool:
    return activity.get("assessment_type") == GUIDE_ACTIVITY_TYPE


def is_graded(activity: dict) -> bool:
    graded = activity.get("graded")
    if graded is None:
        graded = ai_config(activity).get("graded")
    return True if graded is None else bool(graded)


def guide_allowed(activity: dict | None) -> bool:
    """The instructor's choice when made; otherwise on for Guide conversations and for
    ungraded activities, off for other graded ones (the Guide must not help answer them)."""
    if activity is None:
        return True
    chosen = ai_config(activity).get("guide_enabled")
    if isinstance(chosen, bool):
        return chosen
    return is_guide_activity(activity) or not is_graded(activity)


def staff_may_read(tenant_allows: bool, learner_profile: dict) -> bool:
    """Transcripts reach the course's staff only where the tenant enables it and the
    learner has not hidden themselves from instructors."""
    return bool(tenant_allows) and privacy.visible_to_instructors(learner_profile)


def notices(instructor_visible: bool, graded: bool, offline: bool) -> list[str]:
    out = []
    if instructor_visible:
        out.append(NOTICE_INSTRUCTOR)
    if graded:
        out.append(NOTICE_GRADED)
    if offline:
        out.append(NOTICE_OFFLINE)
    return out
