"""StruggleDetector: one object per learning session (named `<tenant>:<session>`). Its
SQLite storage holds the session's window (answers, signals), counters, offers and
cool-downs, so eviction or a restart changes no decision. Each report runs the pure
decision (struggle.rules, struggle.interventions) and queues what it decided in an
outbox; the outbox reaches D1 in batches, by alarm (within flush_interval_s, or at once
when flush_events rows wait) and when the page or the session ends. Every row has a
stable id made when it was decided, and inserts are ON CONFLICT DO NOTHING, so a replayed
flush (a crash between D1's commit and the outbox cleanup) never duplicates a row. While
D1 is down the rows wait, and the alarm retries with backoff."""

from __future__ import annotations

import json
import logging

import clock
from db.database import ConstraintViolation, Database, DataError, DataUnavailable
from db.profiles import new_id
from db.system import get_tenant, insert_metric, system_scope
from durable.base import DurableBase
from struggle import config as rules_config
from struggle import intake as intake_rules
from struggle.interventions import Choice, NoOffer, Offer, Prerequisite, choose, expired, is_pending, utc_day
from struggle.report import delivered, iso, session_summary
from struggle.rules import STRUGGLING, Answer, Signal, assess, is_fast_scroll, is_rapid_guess, is_right

log = logging.getLogger("atomic_guide.struggle")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS answer (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL,"
    " concept_id TEXT NOT NULL, item_id TEXT, credit REAL NOT NULL, response_time_s REAL NOT NULL,"
    " typical_time_s REAL, hints_used INTEGER NOT NULL, misconception TEXT, rapid_guess INTEGER, mastery REAL,"
    " prerequisites TEXT NOT NULL DEFAULT '[]')",
    "CREATE TABLE IF NOT EXISTS signal (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
    " t_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL, target TEXT, ms INTEGER NOT NULL,"
    " dy_px INTEGER NOT NULL, help TEXT, words INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS intake (received_ms INTEGER NOT NULL, n INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS offer (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, kind TEXT NOT NULL,"
    " reason TEXT NOT NULL, concept_id TEXT, offered_ms INTEGER NOT NULL, outcome TEXT, responded_ms INTEGER,"
    " body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS event (id TEXT PRIMARY KEY, reason TEXT NOT NULL, concept_id TEXT,"
    " at_ms INTEGER NOT NULL)",
    # What D1 has not got yet, in decision order. `version` moves when a queued row is
    # replaced (the session summary), so a flush removes only what it wrote.
    "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
    " row_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1,"
    " created_ms INTEGER NOT NULL)",
)

WINDOW_ANSWERS = 200          # kept per session (the rules look at far fewer)
WINDOW_SIGNALS = 500
FLUSH_ROWS = 50               # outbox rows per D1 batch (and 2 x 50 bound values to clear them)
SIGNAL_ROWS_PER_INSERT = 12   # Durable Object SQL binds at most 100 values per query
FLUSH_BATCHES_PER_RUN = 10    # then the alarm comes back for the rest
SAFETY_ALARM_MS = 60_000      # while work is pending, an alarm is always set
RETAIN_AFTER_END_MS = 24 * 3600 * 1000
MAX_BACKOFF_MS = 300_000


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))


class StruggleDetector(DurableBase):
    # -- storage helpers --------------------------------------------------------------

    def _atomically(self, work):
        """Runs `work` in one storage transaction and returns its result. The result is
        kept on the Python side (a list the callback appends to): what a callback returns
        to the runtime would cross to JavaScript and back."""
        box: list = []
        self.ctx.storage.transactionSync(lambda: box.append(work()))
        return box[0]

    def _sql(self, query: str, *args) -> list[dict]:
        return self.ctx.storage.sql.exec(query, *args).toArray()

    def _ensure(self) -> None:
        if not getattr(self, "_ready", False):
            for statement in _SCHEMA:
                self.ctx.storage.sql.exec(statement)
            self._ready = True

    def _meta(self) -> dict:
        return {r["key"]: json.loads(r["value"]) for r in self._sql("SELECT key, value FROM meta")}

    def _put_meta(self, key: str, value) -> None:
        self.ctx.storage.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET"
                                  " value = excluded.value", key, _dumps(value))

    def _bump(self, name: str, by: float) -> None:
        self._bump_all({name: by})

    def _bump_all(self, changes: dict[str, float]) -> None:
        """Adds to several counters in one statement."""
        if not changes:
            return
        args: list = []
        for name, by in changes.items():
            args += [name, by]
        self.ctx.storage.sql.exec(
            f"INSERT INTO counter (name, value) VALUES {', '.join(['(?, ?)'] * len(changes))}"
            " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", *args)

    def _counters(self) -> dict[str, float]:
        return {r["name"]: r["value"] for r in self._sql("SELECT name, value FROM counter")}

    def _queue(self, kind: str, row_id: str, body: dict, now: int) -> None:
        self.ctx.storage.sql.exec(
            "INSERT INTO outbox (kind, row_id, body, created_ms) VALUES (?, ?, ?, ?) ON CONFLICT(row_id) DO UPDATE SET"
            " body = excluded.body, version = version + 1", kind, row_id, _dumps(body), now)

    def _rules(self, meta: dict) -> rules_config.Rules:
        overrides = meta.get("rules") or {}
        key = _dumps(overrides)
        cached = getattr(self, "_rules_cache", None)
        if cached is None or cached[0] != key:
            rules, _problems = rules_config.lenient(overrides)
            cached = self._rules_cache = (key, rules)
        return cached[1]

    @staticmethod
    def _mismatch(meta: dict, identity: dict) -> dict | None:
        bound = meta.get("identity")
        if bound is None:
            return {"status": "unbound"}
        if any(bound.get(k) != identity.get(k) for k in ("tenant_id", "learning_session_id", "learner_id")):
            return {"status": "mismatch"}
        return None

    # -- RPC: setup ---------------------------------------------------------------------

    async def bind(self, identity: dict, setup: dict) -> dict:
        """Ties the object to its session once (the service checked the session in D1):
        who it is about, the tenant's rule overrides, the learner's offers today so far."""
        self._ensure()
        meta = self._meta()
        if meta.get("identity") is not None:
            return self._mismatch(meta, identity) or {"status": "ok"}
        now = clock.now_ms(self.env)

        def work():
            self._put_meta("identity", {k: identity[k] for k in ("tenant_id", "learning_session_id", "learner_id")})
            self._put_meta("rules", setup.get("rules") or {})
            self._put_meta("prior_today", {"day": utc_day(now), "n": int(setup.get("offers_today") or 0)})
            self._put_meta("last_activity_ms", now)

        self._atomically(work)
        return {"status": "ok"}

    # -- RPC: reports ---------------------------------------------------------------------

    def _report(self, identity: dict) -> tuple[dict | None, dict, rules_config.Rules | None, int]:
        """(refusal, meta, rules, now) of a report: the refusal is None when the caller is
        the session the object is bound to."""
        self._ensure()
        meta = self._meta()
        refused = self._mismatch(meta, identity)
        if refused:
            return refused, meta, None, 0
        return None, meta, self._rules(meta), clock.now_ms(self.env)

    async def record_signals(self, identity: dict, signals: list, options: dict) -> dict:
        """A batch of behavioural signals (validated by the route). Refused whole when it
        would exceed the session's signals per minute; then nothing is stored."""
        refused, meta, rules, now = self._report(identity)
        if refused:
            return refused
        window = [(r["received_ms"], r["n"]) for r in
                  self._sql("SELECT received_ms, n FROM intake WHERE received_ms > ?", now - intake_rules.RATE_WINDOW_MS)]
        admitted, retry_after = intake_rules.admit(window, len(signals), now, rules.signals_per_minute)
        if not admitted:
            return {"status": "rate_limited", "retry_after_s": retry_after}

        def work():
            self.ctx.storage.sql.exec("DELETE FROM intake WHERE received_ms <= ?", now - intake_rules.RATE_WINDOW_MS)
            self.ctx.storage.sql.exec("INSERT INTO intake (received_ms, n) VALUES (?, ?)", now, len(signals))
            self._store_signals(signals, now, rules)
            self._touch(now)
            return self._decide(meta, rules, now, options, "signals")

        result = self._atomically(work)
        result["accepted"] = len(signals)
        if options.get("final"):
            await self._flush_all(meta, rules, now)  # the page is going away: write what we have
        await self._schedule(rules, now)
        return result

    def _store_signals(self, signals: list, now: int, rules) -> None:
        """INSERTs of up to 12 rows each, one upsert for what the batch adds to the
        counters, and the window trimmed to its last WINDOW_SIGNALS signals."""
        args: list = []
        counts: dict[str, float] = {"signals_total": len(signals)}
        for s in signals:
            kind, ms, dy = s["type"], int(s.get("ms") or 0), int(s.get("dy_px") or 0)
            args += [kind, int(s["t"]), now, s.get("target"), ms, dy, s.get("help"), int(s.get("words") or 0)]
            counts[f"signals.{kind}"] = counts.get(f"signals.{kind}", 0) + 1
            if kind in ("idle", "dwell"):
                counts[f"{kind}_ms"] = counts.get(f"{kind}_ms", 0) + ms
            elif kind == "help_request":
                counts["help_requests"] = counts.get("help_requests", 0) + 1
            elif kind == "scroll" and is_fast_scroll(Signal("scroll", 0, 0, ms=ms, dy_px=dy), rules):
                counts["fast_scrolls"] = counts.get("fast_scrolls", 0) + 1
        for i in range(0, len(signals), SIGNAL_ROWS_PER_INSERT):  # 8 values a row, 100 bound at most
            chunk = args[i * 8:(i + SIGNAL_ROWS_PER_INSERT) * 8]
            self.ctx.storage.sql.exec(
                "INSERT INTO signal (kind, t_ms, received_ms, target, ms, dy_px, help, words) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * (len(chunk) // 8)), *chunk)
        self.ctx.storage.sql.exec("DELETE FROM signal WHERE seq <= (SELECT max(seq) FROM signal) - ?", WINDOW_SIGNALS)
        self._bump_all(counts)

    async def record_chat_signal(self, identity: dict, payload: dict, options: dict) -> dict:
        """What the Guide made of one learner message (struggle.intake.chat_signal_rows),
        kept in the behaviour window like the page's signals (the chat has its own rate
        limit, so the page's is not spent) and assessed. No offer is made from here, the
        learner is talking to the Guide already; a struggle it shows is recorded for the
        instructor and weighs on the page's next decision."""
        refused, meta, rules, now = self._report(identity)
        if refused:
            return refused
        rows = intake_rules.chat_signal_rows(list(payload.get("signals") or []),
                                             str(payload.get("conversation_id") or ""), now)

        def work():
            self._store_signals(rows, now, rules)
            self._touch(now)
            return self._decide(meta, rules, now, {**options, "offers": False}, "chat")

        result = self._atomically(work)
        result["accepted"] = len(rows)
        await self._schedule(rules, now)
        return result

    async def record_answer(self, identity: dict, answer: dict, options: dict) -> dict:
        """One answer the server recorded (issue 9's responses route, through the service)."""
        refused, meta, rules, now = self._report(identity)
        if refused:
            return refused

        def work():
            a = self._answer(answer, now)
            self.ctx.storage.sql.exec(
                "INSERT INTO answer (at_ms, concept_id, item_id, credit, response_time_s, typical_time_s, hints_used,"
                " misconception, rapid_guess, mastery, prerequisites) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                now, a.concept_id, a.item_id, a.credit, a.response_time_s, a.typical_time_s, a.hints_used,
                a.misconception, None if a.rapid_guess is None else int(a.rapid_guess), a.mastery,
                _dumps(answer.get("prerequisites") or []))
            self.ctx.storage.sql.exec("DELETE FROM answer WHERE seq <= (SELECT max(seq) FROM answer) - ?", WINDOW_ANSWERS)
            self._bump_all({"answers": 1, "wrong_answers": 0 if is_right(a, rules) else 1,
                            "rapid_guesses": 1 if is_rapid_guess(a, rules) else 0})
            self._touch(now)
            return self._decide(meta, rules, now, options, "answer")

        result = self._atomically(work)
        await self._schedule(rules, now)
        return result

    @staticmethod
    def _answer(a: dict, now: int) -> Answer:
        return Answer(at_ms=now, concept_id=str(a["concept_id"]), credit=float(a["credit"]),
                      response_time_s=float(a["response_time_s"]),
                      typical_time_s=None if a.get("typical_time_s") is None else float(a["typical_time_s"]),
                      hints_used=int(a.get("hints_used") or 0), item_id=a.get("item_id"),
                      misconception=a.get("misconception"),
                      rapid_guess=None if a.get("rapid_guess") is None else bool(a["rapid_guess"]),
                      mastery=None if a.get("mastery") is None else float(a["mastery"]))

    async def react(self, identity: dict, intervention_id: str, outcome: str) -> dict:
        """The learner's reaction to an offer (accepted / dismissed). The first one stands;
        an offer left alone past ignore_after_s has become `ignored`."""
        refused, meta, rules, now = self._report(identity)
        if refused:
            return {"status": "not_found"} if refused["status"] == "unbound" else refused
        rows = self._sql("SELECT id, kind, outcome, offered_ms, responded_ms FROM offer WHERE id = ?", intervention_id)
        if not rows:
            return {"status": "not_found"}
        row = rows[0]

        def work():
            self._expire_offers(rules, now)
            current = self._sql("SELECT outcome, responded_ms FROM offer WHERE id = ?", intervention_id)[0]
            if current["outcome"] is not None:
                status = "ok" if current["outcome"] == outcome else "conflict"
                return {"status": status, "outcome": current["outcome"], "responded_at": iso(current["responded_ms"])}
            self._set_outcome(intervention_id, outcome, now)
            self._touch(now)
            self._queue_summary(meta, now)
            return {"status": "ok", "outcome": outcome, "responded_at": iso(now)}

        result = self._atomically(work)
        result.update({"id": intervention_id, "kind": row["kind"]})
        await self._schedule(rules, now)
        return result

    async def forget_behaviour(self, identity: dict) -> dict:
        """Analytics consent was withdrawn: the signals held for this session go."""
        self._ensure()
        if self._mismatch(self._meta(), identity):
            return {"status": "ok", "forgotten": 0}
        n = self._sql("SELECT count(*) AS n FROM signal")[0]["n"]
        self.ctx.storage.sql.exec("DELETE FROM signal")
        return {"status": "ok", "forgotten": n}

    async def erase(self) -> dict:
        """Data-subject erasure: everything this object holds, and its alarm."""
        for table in ("meta", "answer", "signal", "intake", "counter", "offer", "event", "outbox"):
            self.ctx.storage.sql.exec(f"DROP TABLE IF EXISTS {table}")
        await self.ctx.storage.deleteAll()
        self._ready = False
        return {"status": "erased"}

    async def flush_now(self) -> dict:
        """Writes everything pending to D1 now (tests, benchmarks, operators)."""
        self._ensure()
        meta = self._meta()
        if meta.get("identity") is None:
            return {"status": "unbound", "pending": 0}
        rules = self._rules(meta)
        now = clock.now_ms(self.env)
        ok = await self._flush_all(meta, rules, now)
        await self._schedule(rules, now)
        return {"status": "ok" if ok else "unavailable", "pending": self._pending()}

    async def stats(self) -> dict:
        """What the object holds (tests, the load test, operators): counts, no content."""
        self._ensure()
        meta = self._meta()
        offers = self._sql("SELECT id, kind, reason, concept_id, offered_ms, outcome FROM offer ORDER BY seq")
        return {"bound": meta.get("identity") is not None, "counters": self._counters(),
                "pending": self._pending(), "signals_held": self._sql("SELECT count(*) AS n FROM signal")[0]["n"],
                "events": [r["id"] for r in self._sql("SELECT id FROM event ORDER BY at_ms, id")],
                "offers": offers, "ended": bool(meta.get("ended")), "alarm": await self.ctx.storage.getAlarm(),
                "last": meta.get("last")}

    # -- the decision -------------------------------------------------------------------

    def _window(self, rules, now: int, behaviour: bool) -> tuple[list[Answer], list[Signal], list]:
        answers, prerequisites = [], []
        for r in self._sql("SELECT * FROM answer WHERE at_ms >= ? ORDER BY seq", now - rules.answer_window_s * 1000):
            answers.append(Answer(at_ms=r["at_ms"], concept_id=r["concept_id"], credit=r["credit"],
                                  response_time_s=r["response_time_s"], typical_time_s=r["typical_time_s"],
                                  hints_used=r["hints_used"], item_id=r["item_id"], misconception=r["misconception"],
                                  rapid_guess=None if r["rapid_guess"] is None else bool(r["rapid_guess"]),
                                  mastery=r["mastery"]))
            prerequisites = r["prerequisites"]
        signals = [Signal(r["kind"], r["t_ms"], r["received_ms"], r["target"], r["ms"], r["dy_px"], r["help"], r["words"])
                   for r in self._sql("SELECT * FROM signal WHERE received_ms >= ? ORDER BY seq",
                                      now - rules.behaviour_window_s * 1000)] if behaviour else []
        prereqs = [Prerequisite(str(p["concept_id"]), p.get("mastery"), p.get("recall"))
                   for p in json.loads(prerequisites or "[]")]
        return answers, signals, prereqs

    _OFFER_COLUMNS = "id, kind, reason, concept_id, offered_ms, outcome, responded_ms, body"

    def _offer_rows(self) -> list[dict]:
        return self._sql(f"SELECT {self._OFFER_COLUMNS} FROM offer ORDER BY seq")

    @staticmethod
    def _as_offers(rows: list[dict]) -> list[Offer]:
        return [Offer(r["kind"], r["reason"], r["concept_id"], r["offered_ms"], r["outcome"]) for r in rows]

    def _decide(self, meta: dict, rules, now: int, options: dict, source: str) -> dict:
        behaviour = bool(options.get("analytics", True))
        answers, signals, prereqs = self._window(rules, now, behaviour)
        assessment = assess(answers, signals, now, rules, behaviour_allowed=behaviour)
        rows = self._offer_rows()
        if self._expire_offers(rules, now, rows):
            rows = self._offer_rows()
        offers = self._as_offers(rows)
        identity = meta["identity"]
        counters = self._counters()
        event_id = None
        if assessment.state == STRUGGLING:
            event_id = self._record_event(identity, assessment, rules, now, source, counters)
            score_e4 = int(round(assessment.score * 10_000))
            peak = counters.get("peak_score_e4", 0)
            if score_e4 > peak:
                self._bump("peak_score_e4", score_e4 - peak)
                counters["peak_score_e4"] = score_e4
        day = utc_day(now)
        prior = meta.get("prior_today") or {}
        offers_today = sum(1 for o in offers if utc_day(o.offered_ms) == day) + (
            int(prior.get("n", 0)) if prior.get("day") == day else 0)
        choice = NoOffer("in_conversation") if options.get("offers") is False else choose(
            assessment, offers, now, rules, offers_today=offers_today,
            prerequisites=prereqs if assessment.concept_id else [],
            visible_to_instructors=bool(options.get("visible", True)), guide_available=bool(options.get("guide", True)))
        if isinstance(choice, Choice):
            rows.append(self._record_offer(identity, choice, event_id, now, rules))
        last = assessment.to_dict()
        self._put_meta("last", last)
        self._queue_summary(meta, now, offers=rows, counters=counters, last=last, last_activity_ms=now)
        open_offers = [r for r in rows if r["outcome"] is None
                       and is_pending(Offer(r["kind"], r["reason"], r["concept_id"], r["offered_ms"]), now, rules)]
        offer = None
        if open_offers:
            offer = {k: v for k, v in json.loads(open_offers[-1]["body"]).items() if k != "offered_ms"}
        return {"status": "ok", "assessment": last, "intervention": offer,
                "no_offer": None if isinstance(choice, Choice) else choice.why,
                "session_signals": int(counters.get("signals_total", 0))}

    def _record_event(self, identity: dict, assessment, rules, now: int, source: str, counters: dict) -> str:
        """A struggle_events row, at most one per reason and concept within event_repeat_s;
        returns the id of the event the decision belongs to."""
        dominant = assessment.dominant
        last = self._sql("SELECT id, at_ms FROM event WHERE reason = ? AND concept_id IS ? ORDER BY at_ms DESC LIMIT 1",
                         dominant.code, dominant.concept_id)
        if last and now - last[0]["at_ms"] < rules.event_repeat_s * 1000:
            return last[0]["id"]
        event_id = new_id()
        self.ctx.storage.sql.exec("INSERT INTO event (id, reason, concept_id, at_ms) VALUES (?, ?, ?, ?)",
                                  event_id, dominant.code, dominant.concept_id, now)
        self._bump("events", 1)
        counters["events"] = counters.get("events", 0) + 1
        self._queue("event", event_id, {
            "id": event_id, "learner_id": identity["learner_id"], "session_id": identity["learning_session_id"],
            "concept": dominant.concept_id, "event_type": dominant.code, "severity": assessment.score,
            "signals": {"score": assessment.score, "state": assessment.state, "source": source,
                        "concept": dominant.concept_id, "reasons": [r.to_dict() for r in assessment.reasons]},
            "detected_at": iso(now)}, now)
        return event_id

    def _record_offer(self, identity: dict, choice: Choice, event_id: str | None, now: int, rules) -> dict:
        offer_id = new_id()
        prerequisite = choice.features["prerequisite"]
        view = {"id": offer_id, "kind": choice.kind, "reason": choice.reason.code, "concept_id": choice.concept_id,
                "prerequisite": prerequisite, "message": choice.message, "action": choice.action, "why": choice.why,
                "offered_at": iso(now), "expires_at": iso(now + rules.ignore_after_s * 1000), "offered_ms": now}
        body = _dumps(view)
        self.ctx.storage.sql.exec(
            "INSERT INTO offer (id, seq, kind, reason, concept_id, offered_ms, body) VALUES"
            " (?, (SELECT coalesce(max(seq), 0) + 1 FROM offer), ?, ?, ?, ?, ?)",
            offer_id, choice.kind, choice.reason.code, choice.concept_id, now, body)
        if event_id is None:  # every offer follows a struggle decision; keep the link
            last = self._sql("SELECT id FROM event ORDER BY at_ms DESC LIMIT 1")
            event_id = last[0]["id"] if last else None
        content = {"message": choice.message, "action": choice.action, "why": choice.why,
                   "reason": choice.reason.code, "concept_id": choice.concept_id, "prerequisite": prerequisite,
                   "features": choice.features}
        self._queue("offer", offer_id, {"id": offer_id, "learner_id": identity["learner_id"],
                                        "session_id": identity["learning_session_id"], "struggle_event_id": event_id,
                                        "intervention_type": choice.kind, "content": content,
                                        "delivered_at": iso(now)}, now)
        return {"id": offer_id, "kind": choice.kind, "reason": choice.reason.code, "concept_id": choice.concept_id,
                "offered_ms": now, "outcome": None, "responded_ms": None, "body": body}

    def _set_outcome(self, offer_id: str, outcome: str, now: int) -> None:
        self.ctx.storage.sql.exec("UPDATE offer SET outcome = ?, responded_ms = ? WHERE id = ?", outcome, now, offer_id)
        self._bump(f"outcome.{outcome}", 1)
        self._queue("outcome", f"outcome:{offer_id}", {"id": offer_id, "outcome": outcome,
                                                       "responded_at": iso(now)}, now)

    def _expire_offers(self, rules, now: int, rows: list[dict] | None = None) -> int:
        """Marks offers whose time is up as ignored; returns how many."""
        rows = self._offer_rows() if rows is None else rows
        gone = expired(self._as_offers(rows), now, rules)
        for i in gone:
            self._set_outcome(rows[i]["id"], "ignored", now)
        return len(gone)

    def _queue_summary(self, meta: dict, now: int, ended: bool = False, *, offers: list[dict] | None = None,
                       counters: dict | None = None, last: dict | None = None,
                       last_activity_ms: int | None = None) -> None:
        """Queues the session row's summary (one outbox row, replaced until flushed)."""
        if offers is None:
            offers = self._offer_rows()
        if counters is None:
            counters = self._counters()
        if last is None or last_activity_ms is None:
            stored = self._meta()
            last = stored.get("last") if last is None else last
            last_activity_ms = int(stored.get("last_activity_ms") or now) if last_activity_ms is None \
                else last_activity_ms
        identity = meta["identity"]
        self._queue("summary", "summary", {
            "session_id": identity["learning_session_id"], "learner_id": identity["learner_id"],
            "behavioral_signals": session_summary(counters, last, offers, last_activity_ms, now),
            "interventions_delivered": delivered(offers),
            "session_end": iso(last_activity_ms) if ended else None}, now)

    def _touch(self, now: int) -> None:
        """Activity: the session is not idle, and not over (a learner may come back)."""
        self._put_meta("last_activity_ms", now)
        self.ctx.storage.sql.exec("DELETE FROM meta WHERE key = 'ended'")

    def _pending(self) -> int:
        return self._sql("SELECT count(*) AS n FROM outbox")[0]["n"]

    # -- writing to D1 --------------------------------------------------------------------

    async def _flush_all(self, meta: dict, rules, now: int) -> bool:
        """Flushes until the outbox is empty or D1 fails; False if it failed."""
        if getattr(self, "_flushing", False):
            return True  # a flush is already writing (the runtime lets calls interleave on I/O)
        self._flushing = True
        try:
            for _ in range(FLUSH_BATCHES_PER_RUN):
                rows = self._sql("SELECT seq, kind, row_id, body, version FROM outbox ORDER BY seq LIMIT ?", FLUSH_ROWS)
                if not rows:
                    break
                try:
                    await self._write(meta, rows)
                except DataUnavailable as exc:
                    failures = int(meta.get("flush_failures") or 0) + 1
                    meta["flush_failures"] = failures
                    backoff = min(MAX_BACKOFF_MS, 5_000 * 2 ** (failures - 1))
                    self._put_meta("flush_failures", failures)
                    self._put_meta("retry_at_ms", clock.now_ms(self.env) + backoff)
                    log.warning(_dumps({"event": "struggle_flush_delayed", "pending": self._pending(),
                                        "retry_in_ms": backoff, "error": str(exc)[:200]}))
                    return False
                recovered = bool(meta.get("flush_failures"))
                meta["flush_failures"] = 0
                self._atomically(lambda: self._written(rows, recovered))
            return True
        finally:
            self._flushing = False

    def _written(self, rows: list[dict], recovered: bool) -> None:
        """Removes what a flush wrote (one transaction): only the versions written, so a
        row replaced meanwhile (the session summary) stays queued."""
        args: list = []
        for r in rows:
            args += [r["seq"], r["version"]]
        self.ctx.storage.sql.exec(f"DELETE FROM outbox WHERE (seq, version) IN (VALUES "
                                  f"{', '.join(['(?, ?)'] * len(rows))})", *args)
        if recovered:
            self.ctx.storage.sql.exec("DELETE FROM meta WHERE key IN ('flush_failures', 'retry_at_ms')")

    async def _write(self, meta: dict, rows: list[dict]) -> None:
        """One D1 batch for the rows, in decision order (an offer after its event, an
        outcome after its offer). Rows D1 refuses for good (the learner erased meanwhile)
        are dropped one by one and counted; an outage raises DataUnavailable."""
        db = Database(self.env)
        identity = meta["identity"]
        tenant = await db.first(get_tenant(identity["tenant_id"]))
        if tenant is None:
            log.warning(_dumps({"event": "struggle_flush_dropped", "rows": len(rows), "why": "tenant gone"}))
            return
        # The tenant's current database (a restore may move it): read at every flush.
        scope = system_scope(tenant, "struggle-flush")
        bodies = [(r["kind"], json.loads(r["body"])) for r in rows]
        concepts = sorted({b["concept"] for k, b in bodies if k == "event" and b.get("concept")})
        known: set[str] = set()
        if concepts:
            found = await db.all(scope.select("knowledge_graph", {"concept_id__in": concepts}, columns=["concept_id"],
                                              name="struggle.known_concepts"))
            known = {r["concept_id"] for r in found}
        statements = [self._statement(scope, kind, body, known) for kind, body in bodies]
        try:
            await db.batch(statements, name="struggle.flush")
        except ConstraintViolation:
            dropped = 0
            for (kind, body), statement in zip(bodies, statements):
                try:
                    await db.run(statement)
                except ConstraintViolation as exc:
                    dropped += 1
                    log.warning(_dumps({"event": "struggle_flush_row_refused", "kind": kind, "constraint": exc.kind}))
            if dropped:
                try:
                    await db.run(insert_metric("write_refused", "struggle.flush_dropped", dropped,
                                               _dumps({"rows": len(rows)}), identity["tenant_id"]))
                except DataError:
                    pass  # the count is best-effort; the rows that could be written are

    @staticmethod
    def _statement(scope, kind: str, body: dict, known: set[str]):
        if kind == "event":
            return scope.insert_once("struggle_events", {
                "id": body["id"], "learner_id": body["learner_id"], "session_id": body["session_id"],
                "concept_id": body["concept"] if body.get("concept") in known else None,
                "event_type": body["event_type"], "severity": body["severity"], "signals": _dumps(body["signals"]),
                "detected_at": body["detected_at"]}, name="struggle.event")
        if kind == "offer":
            return scope.insert_once("intervention_logs", {
                "id": body["id"], "learner_id": body["learner_id"], "session_id": body["session_id"],
                "struggle_event_id": body["struggle_event_id"], "intervention_type": body["intervention_type"],
                "content": _dumps(body["content"]), "delivered_at": body["delivered_at"]}, name="struggle.offer")
        if kind == "outcome":
            return scope.update("intervention_logs", {"outcome": body["outcome"], "responded_at": body["responded_at"]},
                                {"id": body["id"]}, name="struggle.outcome")
        values = {"behavioral_signals": _dumps(body["behavioral_signals"]),
                  "interventions_delivered": _dumps(body["interventions_delivered"]),
                  "updated_at": body["behavioral_signals"]["updated_at"]}
        values["session_end"] = body.get("session_end")  # cleared again if the learner came back
        return scope.update("learning_sessions", values, {"id": body["session_id"], "learner_id": body["learner_id"]},
                            name="struggle.session_summary")

    # -- time -----------------------------------------------------------------------------

    async def _schedule(self, rules, now: int) -> None:
        """The next alarm: the earliest of the next flush, an offer's timeout, the session's
        idle end and, after the end, the cleanup."""
        meta = self._meta()
        due: list[int] = []
        pending = self._sql("SELECT (SELECT count(*) FROM outbox) AS n, (SELECT min(created_ms) FROM outbox) AS first,"
                            " (SELECT min(offered_ms) FROM offer WHERE outcome IS NULL) AS first_offer")[0]
        if pending["n"]:
            flush_at = now if pending["n"] >= rules.flush_events else pending["first"] + rules.flush_interval_s * 1000
            due.append(max(flush_at, int(meta.get("retry_at_ms") or 0)))
        if pending["first_offer"] is not None:
            due.append(pending["first_offer"] + rules.ignore_after_s * 1000)
        last_activity = int(meta.get("last_activity_ms") or now)
        if not meta.get("ended"):
            due.append(last_activity + rules.session_idle_end_s * 1000)
        elif not pending["n"]:
            due.append(last_activity + RETAIN_AFTER_END_MS)
        current = await self.ctx.storage.getAlarm()
        wanted = min(due) if due else None
        if wanted is None:
            if current is not None:
                await self.ctx.storage.deleteAlarm()
        elif current != wanted:
            await self.ctx.storage.setAlarm(wanted)

    async def alarm(self, alarm_info=None) -> None:
        self._ensure()
        meta = self._meta()
        if meta.get("identity") is None:
            await self.erase()
            return
        rules = self._rules(meta)
        now = clock.now_ms(self.env)
        # Set first, so an alarm run that dies half-way (after D1 committed, before the
        # outbox was cleaned) leaves an alarm that replays the flush.
        await self.ctx.storage.setAlarm(now + SAFETY_ALARM_MS)
        last_activity = int(meta.get("last_activity_ms") or now)
        if meta.get("ended") and not self._pending() and now >= last_activity + RETAIN_AFTER_END_MS:
            await self.erase()  # a day after the session ended and everything reached D1
            return

        def work():
            changed = self._expire_offers(rules, now)
            if not meta.get("ended") and now >= last_activity + rules.session_idle_end_s * 1000:
                self._put_meta("ended", True)
                self._queue_summary(meta, now, ended=True)
            elif changed:
                self._queue_summary(meta, now)

        self._atomically(work)
        if int(meta.get("retry_at_ms") or 0) <= now:
            await self._flush_all(self._meta(), rules, now)
        await self._schedule(rules, now)
