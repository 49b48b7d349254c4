"""A learner's consent, decided in one place (pure). Every flag the profile API accepts,
with its default when the learner never chose, and what it controls:

- `instructor_visibility` (default on): instructors see the learner individually (class
  lists, profile reads, mastery per learner, struggle flags, transcripts where enabled).
  Off: the learner appears only in aggregates over groups large enough not to identify them.
- `analytics` (default on): the tool collects behavioural signals while the learner
  studies (time on task, idle, scrolling) to detect struggle and offer help. Off: no
  signals are stored and no intervention is driven by behaviour; answers still update
  mastery.
- `ai_chat` (default on): the AI Guide chat is available. Off: the chat panel says why
  and no message reaches a model.
- `research` (default off): the learner's data may be included, de-identified, in
  research exports. Opt-in only.
"""

from __future__ import annotations

CONSENT_DEFAULTS = {"instructor_visibility": True, "analytics": True, "ai_chat": True, "research": False}


def consent(privacy_settings: dict | None) -> dict[str, bool]:
    """The effective flags: what the learner chose, defaults for the rest."""
    chosen = ((privacy_settings or {}).get("consent") or {}) if isinstance(privacy_settings, dict) else {}
    return {k: bool(chosen[k]) if isinstance(chosen.get(k), bool) else v for k, v in CONSENT_DEFAULTS.items()}


def visible_to_instructors(profile: dict) -> bool:
    return consent(profile.get("privacy_settings"))["instructor_visibility"]
