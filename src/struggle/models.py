"""The shapes at the edges of struggle detection (pydantic): signal batches from the
page, reactions, answers reported by the server, the tenant's rule overrides, and the
answers these routes give."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.types import StrictBody
from struggle import config as rules_config
from struggle.interventions import KINDS
from struggle.intake import MAX_BATCH, MAX_DURATION_MS

# Element ids the page names (data-ag-item / data-ag-help values): short, no markup.
Target = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:/#-]+$")]
EpochMs = Annotated[int, Field(ge=0, le=10**13, description="The page's clock, ms since the epoch")]
Duration = Annotated[int, Field(ge=1, le=MAX_DURATION_MS, description="Milliseconds")]
ConceptId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Unit = Annotated[float, Field(ge=0, le=1)]


_Strict = StrictBody


class DwellSignal(_Strict):
    """Time spent on one element (the part of the page most in view)."""

    type: Literal["dwell"]
    t: EpochMs
    target: Target
    ms: Duration


class IdleSignal(_Strict):
    """No input for `ms` (reported when a tier is crossed and when input comes back)."""

    type: Literal["idle"]
    t: EpochMs
    ms: Duration


class ScrollSignal(_Strict):
    """One scroll burst: distance and how long it took."""

    type: Literal["scroll"]
    t: EpochMs
    dy_px: int = Field(ge=-1_000_000, le=1_000_000)
    ms: int = Field(ge=1, le=60_000)
    target: Target | None = None


class RevisitSignal(_Strict):
    """Coming back to an element after being on another."""

    type: Literal["revisit"]
    t: EpochMs
    target: Target


class HelpRequestSignal(_Strict):
    """A request for help; `words`: length of the hint shown just before it, if any."""

    type: Literal["help_request"]
    t: EpochMs
    help: Literal["hint", "explanation", "example", "chat"]
    target: Target | None = None
    words: int = Field(default=0, ge=0, le=5000)


SignalIn = Annotated[Union[DwellSignal, IdleSignal, ScrollSignal, RevisitSignal, HelpRequestSignal],
                     Field(discriminator="type")]


class SignalBatch(_Strict):
    """Behaviour on the caller's own learning session (from the session token; a batch
    cannot name another). `final`: the page is being left, write to D1 now."""

    signals: list[SignalIn] = Field(min_length=1, max_length=MAX_BATCH)
    final: bool = False
    # Whether the page has the Guide's panel (no "ask the Guide" offer where it has none).
    guide: bool = True


class ReactionIn(_Strict):
    outcome: Literal["accepted", "dismissed"]


class PrerequisiteIn(_Strict):
    concept_id: ConceptId
    mastery: Unit | None = None
    recall: Unit | None = None


class AnswerReport(BaseModel):
    """An answer as the responses route recorded it (service.report_answer); lenient
    about numbers (the server, not a page, sends it)."""

    model_config = ConfigDict(extra="forbid")
    concept_id: ConceptId
    credit: Unit
    response_time_s: float = Field(ge=0, le=86_400)
    typical_time_s: float | None = Field(default=None, gt=0, le=86_400)
    hints_used: int = Field(default=0, ge=0, le=1000)
    item_id: str | None = Field(default=None, max_length=100)
    misconception: str | None = Field(default=None, max_length=100)
    rapid_guess: bool | None = None
    mastery: Unit | None = None
    recall: Unit | None = None
    prerequisites: list[PrerequisiteIn] = Field(default_factory=list, max_length=50)


# -- answers of the routes --------------------------------------------------------------

class ReasonOut(BaseModel):
    code: str
    strength: float
    concept_id: str | None = None
    evidence: dict[str, Any]


class AssessmentOut(BaseModel):
    score: float = Field(ge=0, le=1)
    state: Literal["ok", "struggling", "indeterminate"]
    concept_id: str | None = None
    mastery: str | None = None
    in_flow: bool
    reasons: list[ReasonOut]


class InterventionOut(BaseModel):
    id: str
    kind: Literal[KINDS]  # type: ignore[valid-type]
    reason: str
    concept_id: str | None = None
    prerequisite: dict[str, Any] | None = None
    message: str
    action: str
    why: str
    offered_at: str
    expires_at: str


class SignalsAccepted(BaseModel):
    accepted: int
    session_signals: int = Field(description="Signals this learning session has had accepted so far")
    assessment: AssessmentOut
    intervention: InterventionOut | None = Field(description="The offer open now, if any (show it once)")


class ReactionOut(BaseModel):
    id: str
    kind: str
    outcome: str
    responded_at: str


class LearnerReason(BaseModel):
    reason: str
    count: int


class LearnerConcept(BaseModel):
    concept_id: str
    concept_name: str | None = None
    count: int


class StrugglingLearner(BaseModel):
    learner_id: str
    lti_user_id: str
    struggle_events: int
    last_struggle_at: str
    max_score: float
    reasons: list[LearnerReason]
    concepts: list[LearnerConcept]
    asked_for_instructor: bool


class StruggledConcept(BaseModel):
    concept_id: str
    concept_name: str | None = None
    struggle_events: int
    learners: int


class InterventionCounts(BaseModel):
    kind: str
    offered: int
    accepted: int
    dismissed: int
    ignored: int
    pending: int


class CourseStruggle(BaseModel):
    course_context: str
    since: str
    days: int
    learners: list[StrugglingLearner]
    hidden_by_consent: int = Field(description="Learners not shown (and not counted) by their own choice")
    concepts: list[StruggledConcept]
    interventions: list[InterventionCounts]


class StruggleRules(BaseModel):
    """A tenant's overrides of the detection thresholds (see the README's table)."""

    model_config = ConfigDict(extra="forbid")
    overrides: dict[str, Any] = Field(max_length=100, json_schema_extra=rules_config.json_schema())


class StruggleRulesOut(BaseModel):
    tenant_id: str
    overrides: dict[str, float]
    effective: dict[str, float]
