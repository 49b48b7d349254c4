"""ChatConversation: one object per AI Guide conversation, named `<tenant>:<conversation
id>`; the stateful shell around the chat's pure decisions (chat/).

- Append-only message rows with a sequence number. The learner's message is stored, and
  written through to D1, before the model is called; the reply's row is reserved at the
  same time, so two sends are answered one after the other in the order they arrived.
- Reply pieces are stored as they arrive (chunk rows keyed by character offset). A reader
  that reconnects, or the object after a restart, serves them from storage: a reply is
  never generated twice. A reply cut off by a restart is sealed as `interrupted` with
  what was stored, and is not regenerated (that would pay for it again).
- When a reply is sealed its chunks are folded into its message row and deleted, so rows
  stay bounded: one row per message, each within the message-size limits, plus the
  chunks of the reply in progress. Older turns are folded into a running summary, so
  building a prompt reads a bounded number of rows however long the conversation is.
- Written through to D1 (chat_conversations, chat_messages; the assessment tables for a
  graded Guide conversation; the usage ledger) in sequence order, idempotently (insert
  or ignore by message id), in one batch per flush; what D1 refused is retried by alarm.
- The learner's own objects (`<tenant>:learner:<id>`) count the message rate
  (durable/chat_limits.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import clock
from chat import judge, limits, offline, prompt, providers, signals
from db.database import DataError, Database
from db.profiles import new_id
from db.system import system_scope
from durable.base import DurableBase
from durable.chat_limits import LearnerRateGate

log = logging.getLogger("atomic_guide.chat")

FOLD_BATCH = 8  # fold older turns into the summary this many at a time
MAX_HISTORY_ROWS = prompt.HISTORY_MESSAGES + FOLD_BATCH + 2
FLUSH_ROWS = 20  # messages per D1 batch
WATCH_MS = 60_000  # alarm while a reply is in progress (recovers it after an eviction)
FLUSH_RETRY_MS = 5_000
SEALED = ("complete", "interrupted", "failed", "limited")
FALLBACK = ("The Guide could not answer just now: the AI service did not respond after {n} attempts. "
            "Your message is saved; send it again in a moment, or keep working and come back.")
INTERRUPTED_NOTE = "The reply was cut off before it finished; ask again to continue."

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS chat_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chat_message (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    " role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),"
    " status TEXT NOT NULL CHECK (status IN ('complete', 'queued', 'streaming', 'interrupted', 'failed', 'limited')),"
    f" content TEXT NOT NULL DEFAULT '' CHECK (length(content) <= {limits.REPLY_MAX_CHARS}),"
    " at_ms INTEGER NOT NULL, info TEXT NOT NULL DEFAULT '{}', turn TEXT, synced INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS chat_message_unsynced ON chat_message (synced, seq)",
    "CREATE TABLE IF NOT EXISTS chat_chunk (seq INTEGER NOT NULL, start INTEGER NOT NULL, text TEXT NOT NULL,"
    " PRIMARY KEY (seq, start))",
)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ChatConversation(LearnerRateGate, DurableBase):
    # -- instance state (the runtime builds the object; nothing here survives a restart) --

    def _live(self) -> dict:
        state = self.__dict__.get("_chat_live")
        if state is None:
            state = {"runner": None, "changed": asyncio.Event(), "flush_lock": asyncio.Lock(), "recovered": False}
            self.__dict__["_chat_live"] = state
        return state

    def _notify(self) -> None:
        live = self._live()
        live["changed"].set()
        live["changed"] = asyncio.Event()

    # -- storage helpers ---------------------------------------------------------------

    def _sql(self, query: str, *args):
        return self.ctx.storage.sql.exec(query, *args)

    def _schema(self) -> None:
        for statement in SCHEMA:
            self._sql(statement)

    def _get(self, key: str, default=None):
        rows = self._sql("SELECT value FROM chat_meta WHERE key = ?", key).toArray()
        return json.loads(rows[0]["value"]) if rows else default

    def _put(self, key: str, value) -> None:
        self._sql("INSERT INTO chat_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                  key, json.dumps(value, separators=(",", ":")))

    def _meta(self) -> dict | None:
        """The conversation's record; None for an object never opened (reading one must
        not create storage: ids that do not exist are asked for, too)."""
        live = self._live()
        if not live.get("schema"):
            if not self._sql("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chat_meta'").toArray():
                return None
            live["schema"] = True
        return self._get("conversation")

    def _owned(self, owner: str | None) -> dict | None:
        meta = self._meta()
        if meta is None or (owner is not None and meta["lti_user_id"] != owner):
            return None
        return meta

    def _row(self, seq: int) -> dict | None:
        rows = self._sql("SELECT * FROM chat_message WHERE seq = ?", seq).toArray()
        return rows[0] if rows else None

    def _next_seq(self) -> int:
        return int(self._sql("SELECT coalesce(max(seq), 0) + 1 AS n FROM chat_message").one()["n"])

    def _insert(self, seq: int, role: str, status: str, content: str, info: dict, turn: dict | None = None) -> str:
        message_id = new_id()
        self._sql("INSERT INTO chat_message (seq, id, role, status, content, at_ms, info, turn) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  seq, message_id, role, status, content, clock.now_ms(self.env), json.dumps(info),
                  json.dumps(turn) if turn is not None else None)
        return message_id

    # -- recovery after a restart -------------------------------------------------------

    async def _recover(self) -> None:
        """Once per instance: replies left `streaming` by a previous instance are sealed
        as interrupted with what was stored (no second model call); queued ones start."""
        live = self._live()
        if live["recovered"]:
            return
        live["recovered"] = True
        if self._meta() is None:
            return
        for row in self._sql("SELECT seq FROM chat_message WHERE status = 'streaming' ORDER BY seq").toArray():
            await self._seal_interrupted(row["seq"], "the conversation's object restarted mid-reply")
        if self._sql("SELECT 1 FROM chat_message WHERE status = 'queued' LIMIT 1").toArray():
            self._start_runner()
        await self._flush_quietly()

    # -- opening -----------------------------------------------------------------------

    async def open(self, meta: dict) -> dict:
        """Starts the conversation (idempotent for the same owner): `meta` holds the
        tenant, D1 binding, learner, course, mode, page, activity and whether staff may
        read it. Returns the public view."""
        await self._recover()
        existing = self._meta()
        if existing is not None:
            if existing["lti_user_id"] != meta.get("lti_user_id"):
                return {"status": "conflict"}
            return {"status": "ok", "conversation": self._public(existing)}
        meta = {**meta, "started_at_ms": clock.now_ms(self.env)}
        self._schema()
        self._live()["schema"] = True
        self._put("conversation", meta)
        self._put("summary", prompt.empty_summary())
        self._put("tokens_used", 0)
        if meta.get("mode") == "graded":
            concepts = list((meta.get("activity") or {}).get("concepts") or [])
            self._put("graded", {"scores": {}, "mastery_score": 0.0, "explanations": 0, "status": "active",
                                 "focus": concepts[0] if concepts else None, "completed_at": None,
                                 "grade": 0.0, "grade_sent": None})
            if concepts:
                # The Guide opens a graded conversation with its first question (no model
                # call: the same words for every learner, so no one gets a better start).
                self._insert(1, "assistant", "complete", offline.graded_opening(concepts[0]), {"opening": True})
        return {"status": "ok", "conversation": self._public(meta)}

    def _public(self, meta: dict) -> dict:
        graded = self._get("graded")
        count = self._sql("SELECT count(*) AS n FROM chat_message").one()["n"]
        return {"id": meta["conversation_id"], "title": meta.get("title"), "mode": meta.get("mode", "study"),
                "course_context": meta["course_context"], "page": meta.get("page") or {},
                "activity": meta.get("activity"), "instructor_visible": bool(meta.get("instructor_visible")),
                "started_at": _iso(meta["started_at_ms"]), "tokens_used": self._get("tokens_used", 0),
                "message_count": count,
                "graded": None if graded is None else {k: graded[k] for k in
                                                       ("mastery_score", "status", "explanations", "grade", "grade_sent")}}

    # -- sending -------------------------------------------------------------------------

    async def send(self, owner: str, content: str, turn: dict) -> dict:
        """Stores the learner's message and reserves its reply; the reply is generated in
        the background (in order with earlier sends). `turn` carries what the Worker read
        for it: page, learner context, settings in force, usage already spent today, and
        the tenant's D1 binding. Answers a status: ok | not_found | full | limited |
        unavailable | invalid."""
        await self._recover()
        meta = self._owned(owner)
        if meta is None:
            return {"status": "not_found"}
        try:
            text = limits.learner_message(content)
        except limits.LimitError as exc:
            return {"status": "invalid", "message": str(exc)}
        count = self._sql("SELECT count(*) AS n FROM chat_message").one()["n"]
        if count + 2 > limits.MAX_MESSAGES_PER_CONVERSATION:
            return {"status": "full", "message": "This conversation has reached its length limit "
                                                 f"({limits.MAX_MESSAGES_PER_CONVERSATION} messages); start a new one."}
        settings = turn["settings"]
        decision = self._budget(turn, settings)
        if not decision.allowed:
            return {"status": "limited", "limit": decision.limit, "message": decision.message,
                    "retry_after_s": decision.retry_after_s}
        if turn.get("d1_binding") and turn["d1_binding"] != meta.get("d1_binding"):
            meta = {**meta, "d1_binding": turn["d1_binding"]}
            self._put("conversation", meta)
        if not meta.get("title"):
            meta = {**meta, "title": prompt._first_sentence(text, 60)}
            self._put("conversation", meta)

        earlier = [r["content"] for r in reversed(self._sql(
            "SELECT content FROM chat_message WHERE role = 'user' ORDER BY seq DESC LIMIT ?",
            signals.RECENT_MESSAGES - 1).toArray())]
        concepts = self._concepts(meta, turn.get("learner") or {})
        graded_view = None
        info: dict = {}
        if meta.get("mode") == "graded":
            info["judgments"], graded_view = self._judge(meta, text, turn.get("learner") or {})
        focus = (graded_view or {}).get("focus") or (turn.get("page") or {}).get("concept")
        found = signals.chat_signals(text, earlier, concepts, focus)

        user_seq = self._next_seq()
        user_id = self._insert(user_seq, "user", "complete", text, info)
        reply_seq = user_seq + 1
        self._insert(reply_seq, "assistant", "queued", "", {}, {
            "page": turn.get("page") or {}, "learner": turn.get("learner") or {}, "settings": settings,
            "usage": turn.get("usage") or {}, "tokens_at_send": self._get("tokens_used", 0)})
        if not await self._flush_quietly():
            # Not in D1, so not acknowledged: nothing of this send is kept.
            self._sql("DELETE FROM chat_message WHERE seq IN (?, ?)", user_seq, reply_seq)
            return {"status": "unavailable", "message": "The learner database is unavailable; nothing was sent."}
        await self.ctx.storage.setAlarm(clock.now_ms(self.env) + WATCH_MS)
        self._start_runner()
        self._notify()
        return {"status": "ok", "user": {"seq": user_seq, "id": user_id, "content": text},
                "reply_seq": reply_seq, "signals": found, "graded": graded_view,
                "learner_id": meta["learner_id"]}

    def _concepts(self, meta: dict, learner: dict) -> list[str]:
        names = [learner.get("concept"), *[p.get("name") for p in learner.get("prerequisites") or []],
                 *(learner.get("mastered") or []), *((meta.get("activity") or {}).get("concepts") or []),
                 (meta.get("page") or {}).get("concept")]
        return [n for i, n in enumerate(names) if n and n not in names[:i]]

    def _in_flight(self) -> int:
        return int(self._sql("SELECT count(*) AS n FROM chat_message WHERE status IN ('queued', 'streaming')").one()["n"])

    def _budget(self, turn: dict, settings: dict, counting_self: bool = False) -> limits.BudgetDecision:
        """Budgets against what the Worker read from the ledger, plus what this
        conversation spent since, plus the worst case of replies still ahead of this one."""
        used_now = int(self._get("tokens_used", 0))
        since = used_now - int(turn.get("tokens_at_send", used_now))
        ahead = (self._in_flight() - (1 if counting_self else 0)) * limits.turn_ceiling(settings)
        usage = turn.get("usage") or {}
        used = {"conversation": used_now + ahead}
        for key in ("learner", "course", "tenant"):
            used[key] = int(usage.get(key, 0)) + since + ahead
        return limits.budget_decision(used, settings, clock.now(self.env))

    def _judge(self, meta: dict, text: str, learner: dict) -> tuple[list[dict], dict]:
        activity = meta.get("activity") or {}
        concepts = list(activity.get("concepts") or [])
        threshold = float(activity.get("threshold", 80))
        questions = learner.get("questions") or []
        expectations = [judge.expectation_for(c, questions) for c in concepts]
        state = self._get("graded")
        judgments = judge.judge_message(text, expectations, state.get("focus"))
        scores = judge.best_scores(state["scores"], judgments)
        explanations = state["explanations"] + (1 if any(j["judged"] for j in judgments) else 0)
        mastery = judge.mastery_score(scores, concepts)
        focus = judge.next_focus(scores, concepts, threshold)
        completed = focus is None and bool(concepts)
        grade = judge.activity_grade(activity.get("grading_schema", "mastery"), mastery, explanations,
                                     int(activity.get("target_explanations", 3 * max(1, len(concepts)))), scores,
                                     concepts, threshold)
        state = {**state, "scores": scores, "mastery_score": mastery, "explanations": explanations, "focus": focus,
                 "status": "completed" if completed else "active", "grade": grade,
                 "completed_at": state.get("completed_at") or (_iso(clock.now_ms(self.env)) if completed else None)}
        self._put("graded", state)
        best = max(judgments, key=lambda j: j["score"]) if judgments else {}
        view = {"mastery_score": mastery, "status": state["status"], "focus": focus, "grade": grade,
                "grade_sent": state.get("grade_sent"), "judgment": best, "concepts": concepts,
                "questions": [q["question_text"] for q in questions if focus and
                              str(q.get("concept", "")).lower() == focus.lower() and q.get("question_text")]}
        stored = [{k: j[k] for k in ("concept", "score", "judged", "matched", "missing", "reasoning_covered",
                                     "reasoning_total", "misconceptions")} for j in judgments]
        return stored, view

    async def record_grade(self, owner: str, grade: float, outcome: str) -> dict:
        """Notes what the gradebook accepted (the Worker posts it through AGS)."""
        meta = self._owned(owner)
        state = self._get("graded") if meta else None
        if state is None:
            return {"status": "not_found"}
        handed_over = outcome in ("sent", "queued")  # queued: the activity's GradeSync object sends it
        state = {**state, "grade_sent": grade if handed_over else state.get("grade_sent"),
                 "grade_outcome": outcome, "grade_at": _iso(clock.now_ms(self.env))}
        self._put("graded", state)
        await self._flush_quietly(force_conversation=True)
        return {"status": "ok"}

    # -- generating (background) ---------------------------------------------------------

    def _start_runner(self) -> None:
        live = self._live()
        if live["runner"] is None or live["runner"].done():
            live["runner"] = asyncio.ensure_future(self._run())
            wait_until = getattr(self.ctx, "waitUntil", None)
            if callable(wait_until):
                wait_until(live["runner"])

    async def _run(self) -> None:
        while True:
            rows = self._sql("SELECT seq, turn FROM chat_message WHERE status = 'queued' ORDER BY seq LIMIT 1").toArray()
            if not rows:
                return
            try:
                await self._generate(rows[0]["seq"], json.loads(rows[0]["turn"] or "{}"))
            except asyncio.CancelledError:
                raise
            except Exception:
                # A bug must not leave the reply open forever: seal what exists.
                log.exception("chat reply %s failed unexpectedly", rows[0]["seq"])
                await self._seal_interrupted(rows[0]["seq"], "internal error")

    async def _generate(self, seq: int, turn: dict) -> None:
        meta = self._meta()
        settings = turn["settings"]
        decision = self._budget(turn, settings, counting_self=True)
        if not decision.allowed:
            await self._seal(seq, "system", "limited", decision.message, {"limit": decision.limit})
            return
        self._sql("UPDATE chat_message SET status = 'streaming' WHERE seq = ?", seq)
        history = self._history(seq)
        graded_state = self._get("graded")
        graded = None
        if meta.get("mode") == "graded" and graded_state is not None:
            user = self._row(seq - 1)
            judgments = json.loads(user["info"]).get("judgments") if user else []
            graded = {"focus": graded_state.get("focus"), "concepts": (meta.get("activity") or {}).get("concepts") or [],
                      "judgment": max(judgments or [{}], key=lambda j: j.get("score", 0)),
                      "questions": [q["question_text"] for q in (turn.get("learner") or {}).get("questions") or []
                                    if graded_state.get("focus") and q.get("question_text")
                                    and str(q.get("concept", "")).lower() == graded_state["focus"].lower()]}
        built = prompt.build_prompt(mode=meta.get("mode", "study"), page=turn.get("page") or {},
                                    learner=turn.get("learner") or {}, summary=self._get("summary"),
                                    history=history, budget_tokens=int(settings["prompt_budget_tokens"]),
                                    graded=graded)
        provider = providers.choose(self.env, settings)
        provider_turn = {"messages": built["messages"], "message": history[-1]["content"] if history else "",
                         "history": history[:-1], "page": turn.get("page") or {}, "learner": turn.get("learner") or {},
                         "mode": meta.get("mode", "study"), "graded": graded}
        attempts = int(getattr(self.env, "CHAT_PROVIDER_ATTEMPTS", None) or 3)
        base_ms = int(getattr(self.env, "CHAT_RETRY_BASE_MS", None) or 500)
        waited: list[int] = []
        offset = 0
        for attempt in range(1, attempts + 1):
            try:
                offset = await self._stream_into(seq, provider, provider_turn)
                break
            except providers.ProviderError as exc:
                if offset or self._stored_length(seq):
                    # Part of the reply was paid for and shown: keep it, never ask again.
                    await self._seal_interrupted(seq, str(exc), provider=provider, built=built)
                    return
                if attempt < attempts:
                    delay = limits.backoff_ms(attempt, base_ms)
                    waited.append(delay)
                    await asyncio.sleep(delay / 1000)
                    continue
                log.warning("chat provider failed %d times: %s", attempts, exc)
                await self._seal(seq, "system", "failed", FALLBACK.format(n=attempts),
                                 {"provider": provider.name, "model": provider.model, "attempts": attempts,
                                  "backoff_ms": waited, "error": str(exc)[:300]},
                                 usage=self._usage(provider, settings, 0, 0, "failed"))
                return
        content = self._joined(seq)
        completion = prompt.reply_tokens(content)
        await self._seal(seq, "assistant", "complete", content,
                         {"provider": provider.name, "model": provider.model, "attempts": attempt, "backoff_ms": waited,
                          "prompt_tokens": built["prompt_tokens"], "completion_tokens": completion,
                          "history_used": built["history_used"]},
                         usage=self._usage(provider, settings, built["prompt_tokens"], completion, "complete"))

    async def _stream_into(self, seq: int, provider, provider_turn: dict) -> int:
        offset = self._stored_length(seq)
        stream = provider.stream(provider_turn)
        try:
            async for piece in stream:
                if not piece:
                    continue
                room = limits.REPLY_MAX_CHARS - offset
                piece = piece[:room]
                self._sql("INSERT INTO chat_chunk (seq, start, text) VALUES (?, ?, ?)", seq, offset, piece)
                offset += len(piece)
                self._notify()
                if offset >= limits.REPLY_MAX_CHARS:
                    break  # the cap: stop reading (and paying for) more
        finally:
            closing = getattr(stream, "aclose", None)
            if closing is not None:
                await closing()
        return offset

    def _stored_length(self, seq: int) -> int:
        row = self._sql("SELECT coalesce(max(start + length(text)), 0) AS n FROM chat_chunk WHERE seq = ?", seq).one()
        return int(row["n"])

    def _joined(self, seq: int) -> str:
        return "".join(r["text"] for r in self._sql("SELECT text FROM chat_chunk WHERE seq = ? ORDER BY start", seq))

    def _history(self, before_seq: int) -> list[dict]:
        summary = self._get("summary")
        rows = self._sql(
            "SELECT seq, role, content FROM chat_message WHERE seq > ? AND seq < ? AND role IN ('user', 'assistant')"
            " AND status IN ('complete', 'interrupted') ORDER BY seq DESC LIMIT ?",
            summary["through_seq"], before_seq, MAX_HISTORY_ROWS).toArray()
        return list(reversed(rows))

    def _usage(self, provider, settings: dict, prompt_tokens: int, completion_tokens: int, outcome: str) -> dict:
        return {"provider": provider.name, "model": provider.model, "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cost_units": limits.cost_units(prompt_tokens, completion_tokens, settings, provider.name),
                "outcome": outcome}

    async def _seal_interrupted(self, seq: int, why: str, provider=None, built: dict | None = None) -> None:
        row = self._row(seq)
        if row is None or row["status"] in SEALED:
            return
        content = self._joined(seq)
        turn = json.loads(row["turn"] or "{}")
        settings = turn.get("settings") or limits.DEFAULTS
        info = {"note": INTERRUPTED_NOTE, "reason": why[:300]}
        usage = None
        if row["status"] == "streaming":
            # The model was called: what it was asked and what it sent count as spent.
            name = provider.name if provider else "workers-ai" if settings.get("provider") == "workers-ai" else "offline"
            model = provider.model if provider else str(settings.get("model", limits.DEFAULT_MODEL))
            prompt_tokens = built["prompt_tokens"] if built else int(settings.get("prompt_budget_tokens", 0))
            completion = prompt.reply_tokens(content)
            usage = {"provider": name, "model": model, "prompt_tokens": prompt_tokens,
                     "completion_tokens": completion,
                     "cost_units": limits.cost_units(prompt_tokens, completion, settings, name),
                     "outcome": "interrupted"}
            info.update({"provider": name, "model": model, "prompt_tokens": prompt_tokens,
                         "completion_tokens": completion})
        await self._seal(seq, "assistant", "interrupted", content, info, usage=usage)

    async def _seal(self, seq: int, role: str, status: str, content: str, info: dict, usage: dict | None = None) -> None:
        """Closes a reply: its text into its row, its chunks gone, tokens counted, older
        turns folded into the summary, and everything written through to D1."""
        if usage is not None:
            info = {**info, "usage": usage}
            spent = usage["prompt_tokens"] + usage["completion_tokens"]
            self._put("tokens_used", int(self._get("tokens_used", 0)) + spent)
        self._sql("UPDATE chat_message SET role = ?, status = ?, content = ?, info = ?, turn = NULL, at_ms = ?"
                  " WHERE seq = ?", role, status, content[: limits.REPLY_MAX_CHARS], json.dumps(info),
                  clock.now_ms(self.env), seq)
        self._sql("DELETE FROM chat_chunk WHERE seq = ?", seq)
        self._fold()
        self._notify()
        await self._flush_quietly()

    def _fold(self) -> None:
        summary = self._get("summary")
        rows = self._sql(
            "SELECT seq, role, content FROM chat_message WHERE seq > ? AND role IN ('user', 'assistant')"
            " AND status IN ('complete', 'interrupted') ORDER BY seq LIMIT ?",
            summary["through_seq"], MAX_HISTORY_ROWS + FOLD_BATCH).toArray()
        pending = self._sql("SELECT min(seq) AS s FROM chat_message WHERE status IN ('queued', 'streaming')").one()["s"]
        if pending is not None:
            rows = [r for r in rows if r["seq"] < pending]
        if len(rows) <= prompt.HISTORY_MESSAGES + FOLD_BATCH:
            return
        meta = self._meta()
        older = rows[: len(rows) - prompt.HISTORY_MESSAGES]
        self._put("summary", prompt.fold_summary(summary, older, self._concepts(meta, {})))

    # -- reading ---------------------------------------------------------------------------

    async def stream_from(self, owner: str, seq: int | None, offset: int, wait_ms: int = 2000,
                          until_done: bool = False) -> dict:
        """The reply `seq` (the latest when None) from character `offset`: what is stored
        now, or, if nothing new is, what arrives within `wait_ms`. `done` once sealed.
        With `until_done`, waits (up to `wait_ms`) for the sealed reply instead of
        answering each new piece (a reader that wants the reply whole)."""
        await self._recover()
        if self._owned(owner) is None:
            return {"status": "not_found"}
        if seq is None:
            latest = self._sql("SELECT max(seq) AS s FROM chat_message WHERE role != 'user'").one()["s"]
            if latest is None:
                return {"status": "no_reply"}
            seq = int(latest)
        deadline = clock.monotonic(self.env) + max(0, wait_ms) / 1000
        while True:
            row = self._row(seq)
            if row is None or row["role"] == "user":
                return {"status": "no_reply"}
            if row["status"] in SEALED:
                text = row["content"][offset:]
                return {"status": "ok", "seq": seq, "done": True,
                        "chunks": [{"start": offset, "text": text}] if text else [],
                        "reply": self._message_view(row)}
            chunks = [] if until_done else self._sql(
                "SELECT start, text FROM chat_chunk WHERE seq = ? AND start + length(text) > ? ORDER BY start",
                seq, offset).toArray()
            if chunks:
                first = chunks[0]
                if first["start"] < offset:
                    chunks[0] = {"start": offset, "text": first["text"][offset - first["start"]:]}
                return {"status": "ok", "seq": seq, "done": False, "chunks": chunks, "reply": None}
            left = deadline - clock.monotonic(self.env)
            if left <= 0:
                return {"status": "ok", "seq": seq, "done": False, "chunks": [], "reply": None}
            changed = self._live()["changed"]
            try:
                await asyncio.wait_for(changed.wait(), left)
            except TimeoutError:
                return {"status": "ok", "seq": seq, "done": False, "chunks": [], "reply": None}

    def _message_view(self, row: dict) -> dict:
        info = json.loads(row["info"] or "{}")
        view = {"seq": row["seq"], "id": row["id"], "role": row["role"], "status": row["status"],
                "content": row["content"], "at": _iso(row["at_ms"])}
        if row["role"] == "user" and info.get("judgments"):
            view["judged"] = [{"concept": j["concept"], "score": j["score"]} for j in info["judgments"] if j["judged"]]
        if "provider" in info:
            view["provider"] = info["provider"]
            view["model"] = info.get("model")
        if "note" in info:
            view["note"] = info["note"]
        if "limit" in info:
            view["limit"] = info["limit"]
        if row["status"] in ("queued", "streaming"):
            view["content"] = self._joined(row["seq"])
        return view

    async def read(self, owner: str | None, staff_course: str | None = None, before_seq: int | None = None,
                   limit: int = 200) -> dict:
        """The conversation and its messages (newest `limit` before `before_seq`, in
        order). `owner` is the learner; staff read with owner=None and their course, and
        only a conversation whose learner was told that staff may read it."""
        await self._recover()
        meta = self._meta()
        if meta is None:
            return {"status": "not_found"}
        if owner is not None and meta["lti_user_id"] != owner:
            return {"status": "not_found"}
        if owner is None and (staff_course is None or not meta.get("instructor_visible")
                              or meta["course_context"] != staff_course):
            return {"status": "not_found"}
        bound = before_seq if before_seq is not None else 2**62
        rows = self._sql("SELECT * FROM chat_message WHERE seq < ? ORDER BY seq DESC LIMIT ?", bound,
                         max(1, min(int(limit), 500)) + 1).toArray()
        more = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        return {"status": "ok", "conversation": self._public(meta), "messages": [self._message_view(r) for r in rows],
                "has_more": more}

    async def storage_stats(self) -> dict:
        """Row counts and the largest row (operations and tests of the size bounds)."""
        if self._meta() is None:
            return {"messages": 0, "chunks": 0, "meta": 0, "widest_row_chars": 0, "summary": None, "tokens_used": 0}
        messages = self._sql("SELECT count(*) AS n, coalesce(max(length(content) + length(info)), 0) AS widest"
                             " FROM chat_message").one()
        chunks = self._sql("SELECT count(*) AS n FROM chat_chunk").one()["n"]
        meta_rows = self._sql("SELECT count(*) AS n, coalesce(max(length(value)), 0) AS widest FROM chat_meta").one()
        return {"messages": messages["n"], "chunks": chunks, "meta": meta_rows["n"],
                "widest_row_chars": max(messages["widest"], meta_rows["widest"]),
                "summary": self._get("summary"), "tokens_used": self._get("tokens_used", 0)}

    # -- deleting ----------------------------------------------------------------------------

    async def purge(self, owner: str | None) -> dict:
        """Removes everything the object holds (a deletion by its learner, or erasure):
        a reply in progress is stopped first."""
        meta = self._meta()
        if meta is not None and owner is not None and meta["lti_user_id"] != owner:
            return {"status": "not_found"}
        live = self._live()
        runner = live["runner"]
        if runner is not None and not runner.done():
            runner.cancel()
            try:
                await runner
            except (asyncio.CancelledError, Exception):
                pass
        live["runner"] = None
        for table in ("chat_chunk", "chat_message", "chat_meta", "chat_send"):
            self._sql(f"DROP TABLE IF EXISTS {table}")
        live["schema"] = False
        await self.ctx.storage.deleteAll()
        self._notify()
        return {"status": "purged" if meta is not None else "empty"}

    # -- D1 write-through -----------------------------------------------------------------------

    async def _flush_quietly(self, force_conversation: bool = False) -> bool:
        try:
            await self._flush(force_conversation)
            return True
        except DataError as exc:
            log.warning("chat write-through deferred: %s", exc)
            await self.ctx.storage.setAlarm(clock.now_ms(self.env) + FLUSH_RETRY_MS)
            return False

    async def _flush(self, force_conversation: bool = False) -> None:
        """Writes the sealed messages D1 does not have yet, oldest first, with the
        conversation's row (and the assessment's, for a graded conversation) and the
        ledger rows of sealed replies, as one D1 batch per FLUSH_ROWS messages."""
        async with self._live()["flush_lock"]:
            meta = self._meta()
            if meta is None:
                return
            while True:
                rows = self._sql("SELECT * FROM chat_message WHERE synced = 0 AND status NOT IN ('queued', 'streaming')"
                                 " ORDER BY seq LIMIT ?", FLUSH_ROWS).toArray()
                if not rows and not force_conversation:
                    return
                scope = system_scope({"id": meta["tenant_id"], "d1_binding": meta.get("d1_binding")},
                                     "chat-conversation")
                await Database(self.env).batch(self._statements(scope, meta, rows), name="chat.write_through")
                for row in rows:
                    self._sql("UPDATE chat_message SET synced = 1 WHERE seq = ?", row["seq"])
                force_conversation = False

    def _statements(self, scope, meta: dict, rows: list[dict]) -> list:
        graded = self._get("graded")
        conversation_id = meta["conversation_id"]
        out = []
        columns = ["id", "conversation_id", "learner_id", "role", "content", "metadata", "created_at", "seq"]
        values = [[r["id"], conversation_id, meta["learner_id"], r["role"], r["content"],
                   json.dumps(self._d1_metadata(r)), _iso(r["at_ms"]), r["seq"]] for r in rows]
        if values:
            out += scope.insert_exported("chat_messages", columns, values, name="chat.messages.insert")
            if graded is not None:
                out += scope.insert_exported("assessment_messages", columns[:-1], [v[:-1] for v in values],
                                             name="chat.assessment_messages.insert")
        ledger_cols = ["id", "conversation_id", "learner_id", "course_context", "day", "provider", "model",
                       "prompt_tokens", "completion_tokens", "total_tokens", "cost_units", "outcome", "created_at"]
        ledger = []
        for r in rows:
            usage = json.loads(r["info"] or "{}").get("usage")
            if usage:
                ledger.append([r["id"], conversation_id, meta["learner_id"], meta["course_context"],
                               _iso(r["at_ms"])[:10], usage["provider"], usage["model"], usage["prompt_tokens"],
                               usage["completion_tokens"], usage["prompt_tokens"] + usage["completion_tokens"],
                               float(usage["cost_units"]), usage["outcome"], _iso(r["at_ms"])])
        if ledger:
            out += scope.insert_exported("chat_usage", ledger_cols, ledger, name="chat.usage.insert")
        count = self._sql("SELECT count(*) AS n FROM chat_message WHERE status NOT IN ('queued', 'streaming')").one()["n"]
        last = self._sql("SELECT max(at_ms) AS t FROM chat_message").one()["t"]
        metadata = {"mode": meta.get("mode", "study"), "page": meta.get("page") or {},
                    "activity_id": (meta.get("activity") or {}).get("id"), "tokens_used": self._get("tokens_used", 0)}
        out.append(scope.update("chat_conversations", {
            "title": (meta.get("title") or "")[:200] or None, "message_count": count,
            "last_message_at": _iso(last) if last else None, "metadata": json.dumps(metadata)},
            {"id": conversation_id}, name="chat.conversation.update"))
        if graded is not None:
            out.append(scope.update("assessment_conversations", {
                "mastery_score": graded["mastery_score"], "status": graded["status"],
                "completed_at": graded.get("completed_at"),
                "metadata": json.dumps({"scores": graded["scores"], "explanations": graded["explanations"],
                                        "grade": graded.get("grade"), "grade_sent": graded.get("grade_sent"),
                                        "grade_outcome": graded.get("grade_outcome"),
                                        "chat_conversation_id": conversation_id})},
                {"id": conversation_id}, name="chat.assessment.update"))
        return out

    @staticmethod
    def _d1_metadata(row: dict) -> dict:
        info = json.loads(row["info"] or "{}")
        keep = {k: info[k] for k in ("provider", "model", "prompt_tokens", "completion_tokens", "attempts", "limit",
                                     "note", "judgments") if k in info}
        return {"status": row["status"], **keep}

    # -- alarm ---------------------------------------------------------------------------------

    async def alarm(self, alarm_info=None) -> None:
        await self._recover()
        if self._meta() is None:
            return
        runner = self._live()["runner"]
        if runner is not None and not runner.done():
            await self.ctx.storage.setAlarm(clock.now_ms(self.env) + WATCH_MS)
            return
        await self._flush_quietly()
