"""The learner model as pure functions: Bayesian Knowledge Tracing (optionally with
forgetting), an Elo/Rasch-style ability with an uncertainty term, the rapid-guess rule and
the predictor of the next response that combines them. Stdlib only, no I/O: the very same
code runs in the Worker, under Pyodide and in the offline tools (scripts/learner-model)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace

# Wise & Ma's normative threshold (NT10): faster than 10% of the item's typical time,
# and never a threshold above 10 s.
RAPID_GUESS_FRACTION = 0.10
RAPID_GUESS_CAP_S = 10.0
# A concept counts as mastered at this posterior (Corbett & Anderson's criterion).
MASTERED_AT = 0.95
# Weight of the newest answer in the recent-accuracy average.
RECENT_WEIGHT = 0.3
_EPS = 1e-6
PARAMS_FORMAT = "atomic-guide-learner-model/1"


def clamp(p: float, lo: float = _EPS, hi: float = 1.0 - _EPS) -> float:
    return lo if p < lo else hi if p > hi else p


def logit(p: float) -> float:
    p = clamp(p)
    return math.log(p / (1.0 - p))


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


# -- parameters ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BKTParams:
    """Per-concept BKT: P(known) before the first answer, P(learn) and P(forget) per
    opportunity, P(wrong | known) and P(right | not known)."""

    p_init: float = 0.3
    p_transit: float = 0.1
    p_slip: float = 0.1
    p_guess: float = 0.25
    p_forget: float = 0.0

    def problems(self) -> list[str]:
        """Why these parameters are unusable (empty when fine). guess + slip < 1 keeps a
        right answer evidence *for* knowing; transit + forget < 1 keeps the transition
        monotone, so more right answers can never lower mastery."""
        out = [f"{f.name} must be within [0, 1]" for f in fields(self)
               if not (isinstance(getattr(self, f.name), (int, float)) and 0.0 <= getattr(self, f.name) <= 1.0)]
        if not out and self.p_guess + self.p_slip >= 1.0:
            out.append("p_guess + p_slip must be below 1")
        if not out and self.p_transit + self.p_forget >= 1.0:
            out.append("p_transit + p_forget must be below 1")
        return out


@dataclass(frozen=True, slots=True)
class EloConfig:
    """Step sizes of the online ability/difficulty updates with Pelanek's uncertainty
    function K(n) = a / (1 + b*n): large while little is known, smaller with evidence."""

    learner_a: float = 0.8
    learner_b: float = 0.05
    learner_floor: float = 0.2  # a floor keeps the ability tracking the learner's recent form
    concept_a: float = 0.3
    concept_b: float = 0.1
    difficulty_a: float = 0.8
    difficulty_b: float = 0.02
    difficulty_floor: float = 0.01  # keeps item difficulty tracking slowly forever

    @staticmethod
    def k(a: float, b: float, n: float) -> float:
        return a / (1.0 + b * n)


@dataclass(frozen=True, slots=True)
class PredictorWeights:
    """Logistic combination of the components; learned offline (scripts/learner-model
    fit) and shipped per tenant in params.json. The defaults (and EloConfig's) are what
    `scripts/learner-model fit` learned on the whole ASSISTments 2009-2010 skill-builder
    file shipped with the project (407,967 answers)."""

    bias: float = -0.1016
    bkt: float = 0.7019         # logit of BKT's P(correct)
    ability: float = 0.4558     # learner ability + concept ability - concept difficulty
    correct: float = -0.0571    # log(1 + right answers on the concept)
    incorrect: float = 0.0800   # log(1 + wrong answers on the concept)
    recent: float = 0.0540      # recent accuracy on the concept minus 1/2
    first: float = -0.3269      # 1 on the first attempt at a concept


@dataclass(frozen=True, slots=True)
class ModelParams:
    """What a tenant's model is: default BKT for concepts without fitted parameters, the
    Elo step sizes and the predictor's weights."""

    default_bkt: BKTParams = BKTParams()
    elo: EloConfig = EloConfig()
    weights: PredictorWeights = PredictorWeights()

    def to_dict(self) -> dict:
        return {"default": asdict(self.default_bkt), "elo": asdict(self.elo), "predictor": asdict(self.weights)}

    @classmethod
    def from_dict(cls, data: Mapping) -> ModelParams:
        """Raises ValueError naming what is wrong."""
        default = bkt_from_dict(data.get("default") or {}, "default")
        elo = _numbers(EloConfig, data.get("elo") or {}, "elo", nonnegative=True)
        weights = _numbers(PredictorWeights, data.get("predictor") or {}, "predictor")
        return cls(default, elo, weights)


def _numbers(kind, data: Mapping, where: str, nonnegative: bool = False):
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be an object")
    names = {f.name for f in fields(kind)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{where}.{key} must be a finite number")
        if nonnegative and value < 0:
            raise ValueError(f"{where}.{key} must not be negative")
    return kind(**{k: float(v) for k, v in data.items()})


def bkt_from_dict(data: Mapping, where: str) -> BKTParams:
    keys = {f.name for f in fields(BKTParams)}
    params = _numbers(BKTParams, {k: v for k, v in data.items() if k in keys}, where)
    problems = params.problems()
    if problems:
        raise ValueError(f"{where}: {'; '.join(problems)}")
    return params


# -- state -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ConceptState:
    """What the model knows about one learner and one concept (a knowledge_state row).

    p_known is the BKT posterior after the latest answer (the mastery shown); skill is the
    learner's concept-specific ability, evidence this concept's share of the learner's
    overall ability, information the Fisher information gathered on the concept."""

    p_known: float
    attempts: int = 0
    correct: int = 0
    incorrect: int = 0
    recent: float = 0.5
    skill: float = 0.0
    evidence: float = 0.0
    information: float = 0.0
    rapid_guesses: int = 0
    streak: int = 0  # right answers in a row, up to now

    @property
    def mastered(self) -> bool:
        return self.attempts > 0 and self.p_known >= MASTERED_AT

    @property
    def skill_se(self) -> float:
        # Standard error with a N(0, 1) prior: 1 / sqrt(prior precision + information).
        return 1.0 / math.sqrt(1.0 + self.information)


def new_state(bkt: BKTParams) -> ConceptState:
    return ConceptState(p_known=bkt.p_init)


@dataclass(frozen=True, slots=True)
class Ability:
    """The learner's overall ability (theta, logit scale) and its standard error. It is the
    sum of the per-concept evidence, so each answer writes only its own concept's row and
    two answers on different concepts can never overwrite each other."""

    theta: float = 0.0
    information: float = 0.0
    attempts: int = 0

    @property
    def se(self) -> float:
        return 1.0 / math.sqrt(1.0 + self.information)

    def plus(self, before: ConceptState, after: ConceptState) -> Ability:
        """This ability with one concept's row replaced (what re-summing would give)."""
        return Ability(self.theta + after.evidence - before.evidence,
                       self.information + after.information - before.information,
                       self.attempts + after.attempts - before.attempts)


def learner_ability(states: Iterable[ConceptState]) -> Ability:
    theta = information = 0.0
    attempts = 0
    for s in states:
        theta += s.evidence
        information += s.information
        attempts += s.attempts
    return Ability(theta, information, attempts)


# -- responses -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Response:
    """One answer: credit in [0, 1] (1 right, 0 wrong, between for partial credit)."""

    credit: float
    response_time_s: float | None = None
    hints: int = 0
    typical_time_s: float | None = None
    rapid_guess: bool | None = None  # None: decide by the normative-threshold rule


def is_rapid_guess(response_time_s: float | None, typical_time_s: float | None) -> bool:
    """Answered faster than 10% of the item's typical time (threshold at most 10 s)."""
    if response_time_s is None or typical_time_s is None or typical_time_s <= 0:
        return False
    return response_time_s < min(RAPID_GUESS_FRACTION * typical_time_s, RAPID_GUESS_CAP_S)


def evidence_credit(response: Response) -> float:
    """Credit as evidence of knowing: each hint halves what a right answer proves."""
    credit = clamp(float(response.credit), 0.0, 1.0)
    return credit * (0.5 ** max(0, int(response.hints)))


# -- BKT -------------------------------------------------------------------------------

def bkt_prior(state: ConceptState, bkt: BKTParams) -> float:
    """P(known) at the coming opportunity: the transition applied to the last posterior."""
    if state.attempts == 0:
        return clamp(state.p_known, 0.0, 1.0)
    p = state.p_known
    return p * (1.0 - bkt.p_forget) + (1.0 - p) * bkt.p_transit


def bkt_p_correct(prior: float, bkt: BKTParams) -> float:
    return prior * (1.0 - bkt.p_slip) + (1.0 - prior) * bkt.p_guess


def bkt_posterior(prior: float, credit: float, bkt: BKTParams) -> float:
    """P(known | answer). Partial credit mixes the posteriors of a right and a wrong answer."""
    right = prior * (1.0 - bkt.p_slip)
    p_right = right + (1.0 - prior) * bkt.p_guess
    wrong = prior * bkt.p_slip
    p_wrong = 1.0 - p_right
    post_right = right / p_right if p_right > 0 else prior
    post_wrong = wrong / p_wrong if p_wrong > 0 else prior
    return clamp(credit * post_right + (1.0 - credit) * post_wrong, 0.0, 1.0)


# -- prediction and update -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Prediction:
    p_correct: float  # the combined predictor (what ships)
    p_bkt: float
    p_ability: float


def _features(state: ConceptState, ability: Ability, difficulty: float, bkt: BKTParams) -> tuple[float, ...]:
    p_bkt = bkt_p_correct(bkt_prior(state, bkt), bkt)
    z_ability = ability.theta + state.skill - difficulty
    return (p_bkt, z_ability, logit(p_bkt), z_ability, math.log1p(state.correct), math.log1p(state.incorrect),
            state.recent - 0.5, 1.0 if state.attempts == 0 else 0.0)


def predict(state: ConceptState, ability: Ability, difficulty: float, bkt: BKTParams,
            weights: PredictorWeights) -> Prediction:
    """P(the next answer on this concept is right), before seeing it."""
    p_bkt, z_ability, *x = _features(state, ability, difficulty, bkt)
    w = weights
    z = (w.bias + w.bkt * x[0] + w.ability * x[1] + w.correct * x[2] + w.incorrect * x[3]
         + w.recent * x[4] + w.first * x[5])
    return Prediction(sigmoid(z), p_bkt, sigmoid(z_ability))


def predictor_features(state: ConceptState, ability: Ability, difficulty: float, bkt: BKTParams) -> tuple[float, ...]:
    """The predictor's inputs in PredictorWeights order after bias (for fitting the weights)."""
    return _features(state, ability, difficulty, bkt)[2:]


@dataclass(frozen=True, slots=True)
class Update:
    state: ConceptState
    prediction: Prediction       # what the model expected before the answer
    difficulty_delta: float      # add to the concept's difficulty
    rapid_guess: bool


def update(state: ConceptState, response: Response, ability: Ability, difficulty: float, difficulty_count: int,
           bkt: BKTParams, params: ModelParams) -> Update:
    """The new state after one answer. A rapid guess is no evidence: only counted."""
    prediction = predict(state, ability, difficulty, bkt, params.weights)
    rapid = response.rapid_guess if response.rapid_guess is not None else is_rapid_guess(
        response.response_time_s, response.typical_time_s)
    if rapid:
        return Update(replace(state, rapid_guesses=state.rapid_guesses + 1), prediction, 0.0, True)
    credit = evidence_credit(response)
    prior = bkt_prior(state, bkt)
    elo = params.elo
    # Elo: the surprise (outcome - expectation) moves learner, concept skill and difficulty.
    surprise = credit - prediction.p_ability
    info = prediction.p_ability * (1.0 - prediction.p_ability)
    k_learner = max(elo.learner_floor, elo.k(elo.learner_a, elo.learner_b, ability.attempts))
    k_concept = elo.k(elo.concept_a, elo.concept_b, state.attempts)
    k_difficulty = max(elo.difficulty_floor, elo.k(elo.difficulty_a, elo.difficulty_b, difficulty_count))
    right = credit >= 0.5
    new = ConceptState(
        p_known=bkt_posterior(prior, credit, bkt),
        attempts=state.attempts + 1,
        correct=state.correct + (1 if right else 0),
        incorrect=state.incorrect + (0 if right else 1),
        recent=(1.0 - RECENT_WEIGHT) * state.recent + RECENT_WEIGHT * credit,
        skill=state.skill + k_concept * surprise,
        evidence=state.evidence + k_learner * surprise,
        information=state.information + info,
        rapid_guesses=state.rapid_guesses,
        streak=state.streak + 1 if right else 0,
    )
    return Update(new, prediction, -k_difficulty * surprise, False)


def params_document(params: ModelParams, concepts: Mapping[str, dict], fit: dict | None = None,
                    source: dict | None = None) -> dict:
    """The params.json document (see README, "Learner model")."""
    doc = {"format": PARAMS_FORMAT, **params.to_dict(), "concepts": dict(concepts)}
    if fit is not None:
        doc["fit"] = fit
    if source is not None:
        doc["source"] = source
    return doc


# -- wheel-spinning ---------------------------------------------------------------------

WHEELSPIN_ATTEMPTS = 10
WHEELSPIN_STREAK = 3


def wheelspin_risk(state: ConceptState, bkt: BKTParams, attempts_left: int | None = None) -> float:
    """P(no run of 3 right answers within the first 10 attempts), from the BKT hidden
    Markov model run forward over the attempts left, starting from the current streak.
    Beck & Gong's wheel-spinning: practice that does not lead to mastery."""
    left = WHEELSPIN_ATTEMPTS - state.attempts if attempts_left is None else attempts_left
    streak = state.streak
    if streak >= WHEELSPIN_STREAK:
        return 0.0
    if left <= 0:
        return 1.0
    known = bkt_prior(state, bkt)
    # mass[(latent known?, streak)] for paths not yet at 3 in a row
    mass = {(True, streak): known, (False, streak): 1.0 - known}
    for _ in range(left):
        nxt: dict[tuple[bool, int], float] = {}
        for (k, s), m in mass.items():
            if m <= 0.0:
                continue
            p_right = (1.0 - bkt.p_slip) if k else bkt.p_guess
            for right, pm in ((True, m * p_right), (False, m * (1.0 - p_right))):
                s2 = s + 1 if right else 0
                if s2 >= WHEELSPIN_STREAK:
                    continue
                # the hidden state moves on after the answer (posterior is implicit in the split)
                stay = (1.0 - bkt.p_forget) if k else (1.0 - bkt.p_transit)
                nxt[(k, s2)] = nxt.get((k, s2), 0.0) + pm * stay
                nxt[(not k, s2)] = nxt.get((not k, s2), 0.0) + pm * (1.0 - stay)
        mass = nxt
    return clamp(sum(mass.values()), 0.0, 1.0)
