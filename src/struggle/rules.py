"""Is the learner stuck, and why: the detection rules as pure functions over one
learning session's window of answers (reported by the server) and behaviour (reported
by the page). `assess` returns a score in [0, 1], a state (ok / struggling /
indeterminate) and the reasons with their evidence. Thresholds come from config.Rules.

Sources of the rules: wheel-spinning (Beck & Gong 2013: no 3 right in a row within 10
attempts); rapid guessing by the normative threshold (Wise & Ma 2012, NT10: under 10% of
the item's typical time, at most 10 s), not counted as knowledge; help abuse and help
avoidance (Aleven et al. 2006, help-seeking model); repeated errors and a misconception
seen twice; long idle and dwell in tiers, fast scrolling past content and returning to
the same element (behavioural markers of confusion, e.g. Baker et al.)."""

from __future__ import annotations

from dataclasses import dataclass, field

from struggle.config import Rules

OK, STRUGGLING, INDETERMINATE = "ok", "struggling", "indeterminate"

# Reason codes are the struggle_events.event_type values they are stored as. The order
# breaks ties between equally strong reasons: evidence from answers before behaviour.
REASONS = ("wheel_spinning", "misconception", "repeated_error", "help_avoidance", "help_abuse", "rapid_guessing",
           "low_confidence", "help_request", "idle", "long_dwell", "rapid_scrolling", "revisiting")
ANSWER_REASONS = frozenset({"wheel_spinning", "misconception", "repeated_error", "help_avoidance", "rapid_guessing"})
SIGNAL_KINDS = ("dwell", "idle", "scroll", "revisit", "help_request")
# What the AI Guide reports of a learner's message (never accepted from the page):
# a message to the Guide (asking for help; target = the concept's name), an expression
# of confusion, a repeated question about one concept (words = how many times asked).
CHAT_SIGNAL_KINDS = ("chat", "chat_confusion", "chat_repeated")


@dataclass(frozen=True)
class Answer:
    """One answer as the server recorded it (the page cannot fake correctness)."""

    at_ms: int
    concept_id: str
    credit: float                      # 0..1; right when >= Rules.correct_credit
    response_time_s: float
    typical_time_s: float | None = None
    hints_used: int = 0
    item_id: str | None = None
    misconception: str | None = None
    rapid_guess: bool | None = None    # as the learner model decided it; None: decided here
    mastery: float | None = None       # the learner model's mastery of the concept after it


@dataclass(frozen=True)
class Signal:
    """One behavioural signal from the page. `t_ms` is the page's clock (for gaps between
    signals), `received_ms` the server's (for how recent it is)."""

    kind: str
    t_ms: int
    received_ms: int
    target: str | None = None
    ms: int = 0          # duration: time on the element, idle time, length of a scroll burst
    dy_px: int = 0       # scroll distance
    help: str | None = None
    words: int = 0       # help_request: length of the hint shown before this request


@dataclass(frozen=True)
class Reason:
    code: str
    strength: float
    evidence: dict = field(default_factory=dict)
    concept_id: str | None = None

    def to_dict(self) -> dict:
        return {"code": self.code, "strength": self.strength, "concept_id": self.concept_id,
                "evidence": dict(self.evidence)}


@dataclass(frozen=True)
class Assessment:
    score: float
    state: str
    reasons: tuple[Reason, ...] = ()
    concept_id: str | None = None      # the concept the learner is working on (latest answer)
    mastery: str | None = None         # mastered / wheel_spinning / indeterminate on that concept
    in_flow: bool = False

    @property
    def dominant(self) -> Reason | None:
        return self.reasons[0] if self.reasons else None

    def to_dict(self) -> dict:
        return {"score": self.score, "state": self.state, "concept_id": self.concept_id,
                "mastery": self.mastery, "in_flow": self.in_flow, "reasons": [r.to_dict() for r in self.reasons]}


# -- answers --------------------------------------------------------------------------

def is_right(answer: Answer, rules: Rules) -> bool:
    return answer.credit >= rules.correct_credit


def rapid_threshold_s(typical_time_s: float | None, rules: Rules) -> float | None:
    """NT10: 10% of the item's typical time, never above 10 s; None without a typical time."""
    if typical_time_s is None or typical_time_s <= 0:
        return None
    # rounded: 0.1 * 60 is 6.000000000000001 in binary floating point, not 6
    return round(min(rules.rapid_fraction * typical_time_s, rules.rapid_cap_s), 6)


def is_rapid_guess(answer: Answer, rules: Rules) -> bool:
    if answer.rapid_guess is not None:
        return answer.rapid_guess
    threshold = rapid_threshold_s(answer.typical_time_s, rules)
    return threshold is not None and answer.response_time_s < threshold


def wheel_spinning(attempts: list[Answer], rules: Rules) -> tuple[str, dict]:
    """Beck & Gong over the attempts at one concept (rapid guesses already left out):
    `mastered` once `mastery_streak` right answers come in a row (or the learner model
    says mastered), `wheel_spinning` after `wheel_spin_attempts` attempts without that,
    `indeterminate` before."""
    streak = best = 0
    for n, answer in enumerate(attempts, start=1):
        streak = streak + 1 if is_right(answer, rules) else 0
        best = max(best, streak)
        if streak >= rules.mastery_streak:
            return "mastered", {"attempts": n, "streak": streak}
        if answer.mastery is not None and answer.mastery >= rules.bkt_mastered:
            return "mastered", {"attempts": n, "model_mastery": answer.mastery}
        if n >= rules.wheel_spin_attempts:
            return "wheel_spinning", {"attempts": n, "best_streak": best, "needed_streak": rules.mastery_streak,
                                      "attempt_limit": rules.wheel_spin_attempts}
    return "indeterminate", {"attempts": len(attempts), "best_streak": best,
                             "needed_streak": rules.mastery_streak, "attempt_limit": rules.wheel_spin_attempts}


def errors_in_a_row(attempts: list[Answer], rules: Rules) -> int:
    n = 0
    for answer in reversed(attempts):
        if is_right(answer, rules):
            break
        n += 1
    return n


def repeated_misconception(attempts: list[Answer], rules: Rules) -> tuple[str, int] | None:
    """The misconception seen most often on the concept, if at least `misconception_repeats`
    times while the latest attempt is still wrong."""
    if not attempts or is_right(attempts[-1], rules):
        return None
    counts: dict[str, int] = {}
    for answer in attempts:
        if answer.misconception and not is_right(answer, rules):
            counts[answer.misconception] = counts.get(answer.misconception, 0) + 1
    if not counts:
        return None
    worst = max(sorted(counts), key=lambda k: counts[k])
    return (worst, counts[worst]) if counts[worst] >= rules.misconception_repeats else None


def rapid_guesses(answers: list[Answer], rules: Rules) -> int:
    return sum(1 for a in answers[-rules.rapid_guess_window:] if is_rapid_guess(a, rules))


def errors_without_help(answers: list[Answer], signals: list[Signal], rules: Rules) -> int:
    """Wrong (unhurried) answers since help was last asked for: a hint used on an answer,
    or a help request from the page."""
    last_help = max((s.received_ms for s in signals if s.kind == "help_request" or s.kind in CHAT_SIGNAL_KINDS),
                    default=-1)
    n = 0
    for answer in reversed(answers):
        if answer.hints_used > 0 or answer.at_ms <= last_help:
            break
        if not is_right(answer, rules) and not is_rapid_guess(answer, rules):
            n += 1
    return n


def in_flow(answers: list[Answer], now_ms: int, rules: Rules) -> bool:
    """Answering fast and well: the last `flow_answers` answers right and not guessed,
    the latest recent. No help is offered then."""
    last = answers[-rules.flow_answers:]
    return (len(last) == rules.flow_answers and now_ms - last[-1].at_ms <= rules.flow_recent_s * 1000
            and all(is_right(a, rules) and not is_rapid_guess(a, rules) for a in last))


# -- behaviour ------------------------------------------------------------------------

def hint_read_ms(words: int, rules: Rules) -> int:
    return max(rules.help_read_min_ms, words * rules.help_read_ms_per_word)


def fast_hint_requests(signals: list[Signal], rules: Rules) -> int:
    """Hint requests that came sooner after the previous one (same element) than the hint
    shown in between can be read."""
    hints = sorted((s for s in signals if s.kind == "help_request" and s.help == "hint"), key=lambda s: s.t_ms)
    previous: dict[str | None, Signal] = {}
    fast = 0
    for s in hints:
        before = previous.get(s.target)
        if before is not None and s.t_ms - before.t_ms < hint_read_ms(s.words, rules):
            fast += 1
        previous[s.target] = s
    return fast


def tier(ms: int, tiers_s: tuple[int, int, int]) -> int:
    """0 below the first tier, else 1..3."""
    return sum(1 for t in tiers_s if ms >= t * 1000)


def is_fast_scroll(signal: Signal, rules: Rules) -> bool:
    distance = abs(signal.dy_px)
    # distance / time >= speed, in integers: no rounding at the boundary
    return (distance >= rules.scroll_fast_min_px and signal.ms > 0
            and distance * 1000 >= rules.scroll_fast_px_per_s * signal.ms)


def most_revisited(signals: list[Signal]) -> tuple[str | None, int]:
    counts: dict[str | None, int] = {}
    for s in signals:
        if s.kind == "revisit":
            counts[s.target] = counts.get(s.target, 0) + 1
    if not counts:
        return None, 0
    target = max(sorted(counts, key=lambda k: k or ""), key=lambda k: counts[k])
    return target, counts[target]


def _behaviour_reasons(signals: list[Signal], rules: Rules) -> list[Reason]:
    out: list[Reason] = []
    strengths = rules.tier_strengths()
    fast = fast_hint_requests(signals, rules)
    if fast >= rules.help_abuse_min:
        out.append(Reason("help_abuse", rules.strength_help_abuse,
                          {"fast_hint_requests": fast, "min_read_ms": rules.help_read_min_ms}))
    idle = max((s.ms for s in signals if s.kind == "idle"), default=0)
    if (t := tier(idle, rules.idle_tiers())) > 0:
        out.append(Reason("idle", strengths[t - 1], {"idle_s": round(idle / 1000, 1), "tier": t,
                                                     "tier_s": rules.idle_tiers()[t - 1]}))
    dwell = max((s for s in signals if s.kind == "dwell"), key=lambda s: s.ms, default=None)
    if dwell is not None and (t := tier(dwell.ms, rules.dwell_tiers())) > 0:
        out.append(Reason("long_dwell", strengths[t - 1], {"target": dwell.target, "dwell_s": round(dwell.ms / 1000, 1),
                                                           "tier": t, "tier_s": rules.dwell_tiers()[t - 1]}))
    fast_scrolls = sum(1 for s in signals if s.kind == "scroll" and is_fast_scroll(s, rules))
    if fast_scrolls >= rules.rapid_scroll_min:
        out.append(Reason("rapid_scrolling", rules.strength_rapid_scrolling,
                          {"fast_scrolls": fast_scrolls, "px_per_s": rules.scroll_fast_px_per_s}))
    target, revisits = most_revisited(signals)
    if revisits >= rules.revisit_min:
        out.append(Reason("revisiting", rules.strength_revisiting, {"target": target, "revisits": revisits}))
    return out + _chat_reasons(signals, rules)


def _chat_reasons(signals: list[Signal], rules: Rules) -> list[Reason]:
    """What the learner told the Guide: saying they are confused or lost (stronger when
    said again), and asking about one concept again and again. The concept is the name
    the conversation used (evidence), not a graph id, so no concept is claimed."""
    out: list[Reason] = []
    confused = [s for s in signals if s.kind == "chat_confusion"]
    if confused:
        last = confused[-1]
        strength = round(min(rules.strength_chat_confusion + 0.15 * (len(confused) - 1), 0.95), 4)
        out.append(Reason("low_confidence", strength, {"source": "chat", "expressions": len(confused),
                                                       "concept": last.target, "conversation_id": last.help}))
    repeated = max((s for s in signals if s.kind == "chat_repeated"), key=lambda s: s.words, default=None)
    if repeated is not None:
        out.append(Reason("help_request", rules.strength_repeated_question,
                          {"source": "chat", "questions": repeated.words, "concept": repeated.target,
                           "conversation_id": repeated.help}))
    return out


# -- the whole picture ----------------------------------------------------------------

def noisy_or(strengths: list[float]) -> float:
    """Independent pieces of evidence: P(at least one is right) = 1 - prod(1 - s)."""
    miss = 1.0
    for s in strengths:
        miss *= 1.0 - min(max(s, 0.0), 1.0)
    return round(1.0 - miss, 4)


def assess(answers: list[Answer], signals: list[Signal], now_ms: int, rules: Rules,
           behaviour_allowed: bool = True) -> Assessment:
    """The decision over the window. `answers` and `signals` in arrival order; evidence
    older than the rules' windows is left out. Without consent to analytics
    (`behaviour_allowed` False) only answers count."""
    recent = [a for a in answers if now_ms - a.at_ms <= rules.answer_window_s * 1000]
    behaviour = [s for s in signals if now_ms - s.received_ms <= rules.behaviour_window_s * 1000] \
        if behaviour_allowed else []
    reasons: list[Reason] = []
    concept = recent[-1].concept_id if recent else None
    label = None
    if concept is not None:
        attempts = [a for a in recent if a.concept_id == concept]
        counted = [a for a in attempts if not is_rapid_guess(a, rules)]
        label, evidence = wheel_spinning(counted, rules)
        if label == "wheel_spinning":
            reasons.append(Reason("wheel_spinning", rules.strength_wheel_spinning, evidence, concept))
        if label != "mastered":
            found = repeated_misconception(counted, rules)
            if found is not None:
                reasons.append(Reason("misconception", rules.strength_misconception,
                                      {"misconception": found[0], "times": found[1]}, concept))
            errors = errors_in_a_row(counted, rules)
            if errors >= rules.repeated_errors:
                reasons.append(Reason("repeated_error", rules.strength_repeated_error,
                                      {"errors_in_a_row": errors}, concept))
    guesses = rapid_guesses(recent, rules)
    if guesses >= rules.rapid_guess_min:
        reasons.append(Reason("rapid_guessing", rules.strength_rapid_guessing,
                              {"rapid_guesses": guesses, "of_last": min(len(recent), rules.rapid_guess_window)},
                              concept))
    avoided = errors_without_help(recent, behaviour, rules)
    if avoided >= rules.help_avoidance_errors:
        reasons.append(Reason("help_avoidance", rules.strength_help_avoidance, {"errors_without_help": avoided},
                              concept))
    reasons += _behaviour_reasons(behaviour, rules)
    reasons.sort(key=lambda r: (-r.strength, REASONS.index(r.code)))
    score = noisy_or([r.strength for r in reasons])
    flow = in_flow(recent, now_ms, rules)
    if flow:
        state = OK
    elif score >= rules.struggle_threshold:
        state = STRUGGLING
    elif score > 0 or label == "indeterminate":
        state = INDETERMINATE
    else:
        state = OK
    return Assessment(score, state, tuple(reasons), concept, label, flow)
