"""The thresholds of struggle detection and of the intervention policy, with their
defaults (README, "Struggle detection") and per-tenant overrides (tenants.settings
`struggle`). Pure: a flat, bounded key space validated here, no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class Rules:
    # -- answers (server-reported) ------------------------------------------------------
    correct_credit: float = 0.5          # credit at or above this counts as a right answer
    wheel_spin_attempts: int = 10        # Beck & Gong: 10 attempts without mastery
    mastery_streak: int = 3              # mastery = this many right in a row
    bkt_mastered: float = 0.95           # or the learner model's mastery at least this
    rapid_fraction: float = 0.10         # rapid guess: faster than 10% of the item's typical time...
    rapid_cap_s: float = 10.0            # ...and never a threshold above 10 s (normative threshold, NT10)
    rapid_guess_window: int = 5          # rapid guessing: among the last 5 answers...
    rapid_guess_min: int = 3             # ...at least 3 rapid guesses
    repeated_errors: int = 3             # wrong answers in a row on one concept
    misconception_repeats: int = 2       # the same misconception this often on one concept
    help_avoidance_errors: int = 4       # wrong answers since the last help asked for
    answer_window_s: int = 3600          # answers older than this are not evidence
    # -- behaviour (page-reported) ----------------------------------------------------
    help_read_min_ms: int = 3000         # a hint cannot be read faster than this...
    help_read_ms_per_word: int = 240     # ...or than 250 words per minute
    help_abuse_min: int = 2              # hint requests faster than reading, in the window
    idle_tier1_s: int = 60
    idle_tier2_s: int = 180
    idle_tier3_s: int = 600
    dwell_tier1_s: int = 120
    dwell_tier2_s: int = 300
    dwell_tier3_s: int = 600
    scroll_fast_px_per_s: int = 3000     # a scroll burst this fast...
    scroll_fast_min_px: int = 1200       # ...over at least this distance skips content
    rapid_scroll_min: int = 3            # fast bursts in the window
    revisit_min: int = 3                 # returns to one element in the window
    behaviour_window_s: int = 600        # behaviour older than this is not evidence
    # -- how reasons add up -------------------------------------------------------------
    strength_wheel_spinning: float = 0.9
    strength_repeated_error: float = 0.7
    strength_misconception: float = 0.7
    strength_rapid_guessing: float = 0.6
    strength_help_abuse: float = 0.6
    strength_help_avoidance: float = 0.6
    strength_tier1: float = 0.3          # idle / long dwell, by tier
    strength_tier2: float = 0.6
    strength_tier3: float = 0.8
    strength_rapid_scrolling: float = 0.4
    strength_revisiting: float = 0.3
    strength_chat_confusion: float = 0.5  # "I'm lost" to the Guide (+0.15 each time again)
    strength_repeated_question: float = 0.5  # the same concept asked about 3+ times
    struggle_threshold: float = 0.6      # score (noisy-OR of strengths) that means struggling
    flow_answers: int = 3                # this many right, unhurried answers in a row...
    flow_recent_s: int = 300             # ...the last within this long: no help offered
    # -- interventions ------------------------------------------------------------------
    cooldown_s: int = 300                # one offer per kind within this long
    instructor_note_cooldown_s: int = 86400
    min_gap_s: int = 60                  # between any two offers
    daily_cap: int = 8                   # offers per learner per day
    ignore_after_s: int = 600            # an offer without reaction counts as ignored
    escalate_after: int = 2              # earlier offers on a concept before a note to the instructor
    prereq_mastery_min: float = 0.6      # a prerequisite below this mastery...
    prereq_recall_min: float = 0.5       # ...or this recall probability is weak
    event_repeat_s: int = 300            # one struggle event per reason and concept within this long
    # -- intake and flush -------------------------------------------------------------
    signals_per_minute: int = 60
    flush_interval_s: int = 30           # pending rows reach D1 within this long...
    flush_events: int = 50               # ...or as soon as this many are pending
    session_idle_end_s: int = 1800       # no activity this long ends the session

    def idle_tiers(self) -> tuple[int, int, int]:
        return (self.idle_tier1_s, self.idle_tier2_s, self.idle_tier3_s)

    def dwell_tiers(self) -> tuple[int, int, int]:
        return (self.dwell_tier1_s, self.dwell_tier2_s, self.dwell_tier3_s)

    def tier_strengths(self) -> tuple[float, float, float]:
        return (self.strength_tier1, self.strength_tier2, self.strength_tier3)

    def cooldown_for(self, kind: str) -> int:
        return self.instructor_note_cooldown_s if kind == "instructor_note" else self.cooldown_s

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULTS = Rules()

# Bounds per key: wide enough for any sane policy, narrow enough that no override can
# make the detector unbounded (a window of a year, a limit of a million signals).
_DAY = 86400
_BOUNDS: dict[str, tuple[float, float]] = {
    "correct_credit": (0.01, 1), "wheel_spin_attempts": (2, 100), "mastery_streak": (1, 20),
    "bkt_mastered": (0.5, 1), "rapid_fraction": (0, 1), "rapid_cap_s": (0, 120), "rapid_guess_window": (1, 50),
    "rapid_guess_min": (1, 50), "repeated_errors": (2, 50), "misconception_repeats": (2, 20),
    "help_avoidance_errors": (2, 50), "answer_window_s": (60, _DAY), "help_read_min_ms": (0, 60_000),
    "help_read_ms_per_word": (0, 2000), "help_abuse_min": (1, 50), "idle_tier1_s": (5, _DAY),
    "idle_tier2_s": (5, _DAY), "idle_tier3_s": (5, _DAY), "dwell_tier1_s": (5, _DAY), "dwell_tier2_s": (5, _DAY),
    "dwell_tier3_s": (5, _DAY), "scroll_fast_px_per_s": (100, 100_000), "scroll_fast_min_px": (0, 1_000_000),
    "rapid_scroll_min": (1, 100), "revisit_min": (2, 100), "behaviour_window_s": (60, _DAY),
    "struggle_threshold": (0.05, 1), "flow_answers": (1, 20), "flow_recent_s": (0, _DAY),
    "cooldown_s": (0, _DAY), "instructor_note_cooldown_s": (0, 7 * _DAY), "min_gap_s": (0, _DAY),
    "daily_cap": (0, 1000), "ignore_after_s": (10, _DAY), "escalate_after": (1, 50),
    "prereq_mastery_min": (0, 1), "prereq_recall_min": (0, 1), "event_repeat_s": (0, _DAY),
    "signals_per_minute": (1, 100_000), "flush_interval_s": (1, 3600), "flush_events": (1, 500),
    "session_idle_end_s": (60, _DAY),
}
for _f in fields(Rules):
    if _f.name.startswith("strength_"):
        _BOUNDS[_f.name] = (0, 1)
_TYPES = {f.name: type(getattr(DEFAULTS, f.name)) for f in fields(Rules)}


def json_schema() -> dict:
    """The overrides object as JSON Schema: every rule name, its type and its bounds (the
    orderings between rules are checked by from_overrides and answered with 422)."""
    props = {}
    for name, kind in _TYPES.items():
        lo, hi = _BOUNDS[name]
        props[name] = {"type": "integer" if kind is int else "number", "minimum": lo, "maximum": hi}
    return {"type": "object", "properties": props, "additionalProperties": False}


class RulesError(ValueError):
    """Overrides that cannot be applied; `problems` names each bad key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def from_overrides(overrides: dict | None, base: Rules = DEFAULTS) -> Rules:
    """`base` with `overrides` applied; every bad key or value is named in RulesError."""
    if not overrides:
        return base
    if not isinstance(overrides, dict):
        raise RulesError(["the overrides must be an object of rule names to numbers"])
    problems: list[str] = []
    changes: dict = {}
    for key, value in overrides.items():
        if key not in _TYPES:
            problems.append(f"{key}: unknown rule")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{key}: must be a number")
            continue
        if _TYPES[key] is int:
            if value != int(value):
                problems.append(f"{key}: must be a whole number")
                continue
            value = int(value)
        else:
            value = float(value)
        lo, hi = _BOUNDS[key]
        if not lo <= value <= hi:
            problems.append(f"{key}: must be between {lo:g} and {hi:g}")
            continue
        changes[key] = value
    rules = replace(base, **changes) if changes else base
    for a, b in (("idle_tier1_s", "idle_tier2_s"), ("idle_tier2_s", "idle_tier3_s"),
                 ("dwell_tier1_s", "dwell_tier2_s"), ("dwell_tier2_s", "dwell_tier3_s")):
        if getattr(rules, a) >= getattr(rules, b):
            problems.append(f"{a} must be below {b}")
    if rules.rapid_guess_min > rules.rapid_guess_window:
        problems.append("rapid_guess_min cannot exceed rapid_guess_window")
    if problems:
        raise RulesError(problems)
    return rules


def lenient(overrides: dict | None) -> tuple[Rules, list[str]]:
    """For stored overrides (a tenant's settings): the valid part applied, the rest named.
    A bad stored value must not stop detection for the tenant."""
    try:
        return from_overrides(overrides), []
    except RulesError as exc:
        good = {k: v for k, v in (overrides or {}).items()
                if isinstance(overrides, dict) and not any(p.startswith(f"{k}:") for p in exc.problems)}
        try:
            return from_overrides(good), exc.problems
        except RulesError as again:
            return DEFAULTS, exc.problems + again.problems
