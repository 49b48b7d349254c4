"""Request and response bodies of the profile API (strict: unknown fields and wrong
types are refused, ranges follow the seeds)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api.types import StrictBody
from privacy import CONSENT_DEFAULTS

Unit = Annotated[float, Field(ge=0, le=1)]
ConceptKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]


_Strict = StrictBody


class ForgettingCurve(_Strict):
    """Ebbinghaus-style parameters: R(t) = initial_retention * exp(-decay_rate * t_days)."""

    initial_retention: Unit = 1.0
    decay_rate: float = Field(default=0.3, ge=0, le=10)
    half_life_days: float | None = Field(default=None, gt=0, le=3650)


class CognitiveProfile(_Strict):
    # Retention strength per concept or pattern name (0..1).
    memory_patterns: dict[ConceptKey, Unit] = Field(default_factory=dict, max_length=200)
    # Concepts mastered per study hour.
    learning_velocity: float | None = Field(default=None, ge=0, le=100)
    forgetting_curve: ForgettingCurve | None = None
    preferred_modality: Literal["visual", "auditory", "kinesthetic", "reading", "mixed"] | None = None
    # Seed 001's 1..10 difficulty scale.
    optimal_difficulty: int | None = Field(default=None, ge=1, le=10)


class Consent(_Strict):
    """Each flag and what it hides: see src/privacy.py (the defaults are the same)."""

    analytics: bool = CONSENT_DEFAULTS["analytics"]
    ai_chat: bool = CONSENT_DEFAULTS["ai_chat"]
    research: bool = CONSENT_DEFAULTS["research"]
    instructor_visibility: bool = CONSENT_DEFAULTS["instructor_visibility"]


class PrivacySettings(_Strict):
    consent: Consent = Field(default_factory=Consent)
    data_sharing: Literal["none", "institution", "anonymized_research"] = "institution"


class ProfilePatch(_Strict):
    # The schema says what the validator checks: at least one of the two, not null.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"anyOf": [
        {"required": ["cognitive_profile"], "properties": {"cognitive_profile": {"not": {"type": "null"}}}},
        {"required": ["privacy_settings"], "properties": {"privacy_settings": {"not": {"type": "null"}}}}]})

    cognitive_profile: CognitiveProfile | None = None
    privacy_settings: PrivacySettings | None = None

    @model_validator(mode="after")
    def _something(self):
        if self.cognitive_profile is None and self.privacy_settings is None:
            raise ValueError("send cognitive_profile, privacy_settings or both")
        return self


class Profile(BaseModel):
    id: str
    lti_user_id: str
    cognitive_profile: dict
    privacy_settings: dict
    version: int
    created_at: str
    updated_at: str
    stale: bool = False


class ProfileList(BaseModel):
    course_context: str
    profiles: list[Profile]
    # Learners of the course who chose not to be shown to instructors individually.
    hidden_by_consent: int


class Erasure(BaseModel):
    """What DELETE /api/profile erased: rows deleted per table, their total, and how many
    Guide conversation objects (Durable Objects) were emptied."""

    rows_deleted: dict[str, int]
    total: int
    conversations_emptied: int = 0
