"""chat: the AI Guide with the offline provider, through one conversation object.

Throughput and CPU (in-process, httpx.ASGITransport over devhost LocalHost, a manual
clock moved 6.1 s per message so the 10-a-minute rate never refuses): N messages sent
one after another to ONE conversation (JSON variant: the whole turn — route, learner
context and budget reads, the object storing the message, write-through to D1, the
offline Guide streaming its pieces into storage, sealing, ledger). The conversation
grows to 2N messages, so the running summary and bounded history are on the path.
  chat_messages_per_s            N / wall seconds
  chat_send_cpu_p50/p99_ms       time.process_time() inside the app for each POST (the local
                                 D1 and Durable Object run in this process, so their CPU counts;
                                 httpx's client side does not)
  chat_model_cpu_p50_ms          the offline Guide's reply alone (the part a model would do)
  chat_d1_binding_cpu_p50_ms     CPU inside the local D1 binding (SQLite, commits): D1's
                                 work, remote on Cloudflare
  chat_tool_cpu_p50/p99_ms       send CPU minus the model's and D1's, per message: what the
                                 tool itself spends (route, prompt building, the object's
                                 storage and streaming, RPC copies) — Worker and object
                                 together, so conservative against the Worker's cap
  chat_tool_cpu_budget_ratio_at_10x  p99 tool CPU x 10 (CPython -> Pyodide) / limits.cpu_ms
  chat_object_cpu_p50/p99_ms     the same turns sent straight to a conversation object (no
                                 route): the object's share (its own CPU budget on Cloudflare)
  chat_worker_cpu_p50/p99_ms     tool minus object (quantile by quantile): the Worker's share,
  chat_worker_cpu_budget_ratio_at_10x  which is what limits.cpu_ms caps
  chat_send_vs_profile_get_cpu_ratio  CPU of a chat turn / CPU of GET /api/profile, same run
  chat_d1_round_trips_per_message     D1 calls (statements or batches) per turn
  chat_prompt_build_p50_us       the pure prompt builder on a full window

Time to first streamed byte (real HTTP: uvicorn on loopback in a thread, raw sockets):
from writing POST .../messages (Accept: text/event-stream) to the first `event: delta`
bytes, against the full response time of GET /api/chat/conversations on the same server
(an authenticated D1 read): chat_ttfb_p50/p99_ms, chat_ttfb_vs_list_ratio."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from bench import ROOT, BenchRun, group
from bench.fixture import dev_vars, quiet_data_layer_log
from bench.stats import median, percentile, ratio, settle

TENANT = "c0000000-0000-4000-8000-000000000001"
LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
QUESTIONS = ["I'm confused about factoring quadratics, where do I start?",
             "Factoring means writing the expression as a product of two brackets whose roots add up right",
             "why does the middle term have to match the sum?", "just tell me the answer",
             "So for x^2 - 5x + 6 I need two numbers that multiply to 6 and add to -5, which gives -2 and -3"]


class D1Counter:
    """Wraps the D1 binding to count round trips (each statement run, each batch) and the
    CPU spent inside the binding (local SQLite; remote on Cloudflare, not the Worker's)."""

    def __init__(self, db) -> None:
        self._db = db
        self.calls = 0
        self.cpu_s = 0.0

    def prepare(self, sql):
        return _Prepared(self, self._db.prepare(sql))

    async def timed(self, awaitable):
        self.calls += 1
        started = time.process_time()
        try:
            return await awaitable
        finally:
            self.cpu_s += time.process_time() - started

    async def batch(self, statements):
        return await self.timed(self._db.batch([s.inner for s in statements]))


class _Prepared:
    def __init__(self, counter: D1Counter, statement) -> None:
        self._counter = counter
        self._statement = statement

    def bind(self, *args):
        return _Bound(self._counter, self._statement.bind(*args))


class _Bound:
    def __init__(self, counter: D1Counter, inner) -> None:
        self._counter = counter
        self.inner = inner

    async def all(self):
        return await self._counter.timed(self.inner.all())

    async def run(self):
        return await self._counter.timed(self.inner.run())

    async def raw(self, *args, **kwargs):
        return await self._counter.timed(self.inner.raw(*args, **kwargs))


def _vars() -> dict:
    """.dev.vars (or throwaway secrets without it), with slow-query alerts off."""
    from devhost.config import read_dev_vars

    found = dev_vars()
    base = read_dev_vars(ROOT / ".dev.vars") if found is None else found
    return {**base, "SLOW_QUERY_MS": "60000"}


async def _prepared_host(state, clock=None, values: dict | None = None):
    """A migrated host with the bench tenant, one learner, the offline Guide and budgets
    large enough never to refuse; returns (host, learner token)."""
    from auth.session import mint_session_token
    from chat import service
    from db import profiles
    from db.database import Database
    from db.system import system_scope
    from devhost.__main__ import register_tenant
    from devhost.host import LocalHost

    host = LocalHost(ROOT, state_root=state, dev_vars=values or _vars(), clock=clock)
    host.migrate()
    await register_tenant(host, TENANT, "Bench University")
    await host.start()
    scope = system_scope({"id": TENANT, "d1_binding": "D1_PRIMARY"}, "bench")
    await profiles.ensure(Database(host.env), scope, "bench-learner")
    big = 10**12
    await service.save_settings(Database(host.env), scope, "tenant", {
        "provider": "offline", "conversation_tokens": big, "tenant_daily_tokens": big, "course_daily_tokens": big,
        "learner_daily_tokens": big}, "bench")
    token = mint_session_token(host.env, tenant_id=TENANT, lti_user_id="bench-learner", context_id="course-1",
                               roles=[LEARNER_ROLE])
    return host, token


async def _throughput(run: BenchRun) -> list[tuple[str, float]]:
    import httpx

    from chat import offline, prompt
    from devhost.clock import ManualClock

    count = run.pick(300, 40)
    warmup = run.pick(30, 10)
    host, token = await _prepared_host(run.tmpdir("chat-state"), ManualClock())
    headers = {"Authorization": f"Bearer {token}"}
    inside = {"cpu": 0.0}

    async def timed_app(scope, receive, send):  # CPU inside the app only (not httpx's client side)
        started = time.process_time()
        try:
            await host(scope, receive, send)
        finally:
            inside["cpu"] += time.process_time() - started

    transport = httpx.ASGITransport(app=timed_app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            started = await client.post("/api/chat/conversations", json={"concept": "Quadratics"}, headers=headers)
            cid = started.json()["id"]
            path = f"/api/chat/conversations/{cid}/messages"
            history: list[dict] = []
            cpu, model_cpu, tool_cpu, binding_cpu = [], [], [], []
            counter = D1Counter(host.env.D1_PRIMARY)
            wall_total = 0.0
            for i in range(warmup + count):
                text = QUESTIONS[i % len(QUESTIONS)]
                host.clock.advance(6.1)
                if i == warmup:
                    host.env.D1_PRIMARY = counter
                    settle()
                d0 = counter.cpu_s
                a0, w0 = inside["cpu"], time.perf_counter()
                r = await client.post(path, json={"content": text}, headers=headers)
                w1 = time.perf_counter()
                c0, c1 = 0.0, inside["cpu"] - a0
                d1_cpu = counter.cpu_s - d0
                if r.status_code != 200:
                    raise RuntimeError(f"chat send answered {r.status_code}: {r.text[:300]}")
                reply = r.json()["reply"]["content"]
                # the model's share: the offline Guide's reply to the same turn, alone
                m0 = time.process_time()
                offline.reply({"message": text, "history": history[-prompt.HISTORY_MESSAGES:], "page": {},
                               "learner": {"concept": "Quadratics"}})
                m1 = time.process_time()
                history += [{"role": "user", "content": text}, {"role": "assistant", "content": reply}]
                if i >= warmup:
                    cpu.append((c1 - c0) * 1000)
                    model_cpu.append((m1 - m0) * 1000)
                    tool_cpu.append(max(0.0, (c1 - c0 - (m1 - m0) - d1_cpu) * 1000))
                    binding_cpu.append(d1_cpu * 1000)
                    wall_total += w1 - w0
            round_trips = counter.calls / count
            baseline = []
            for _ in range(count):
                a0 = inside["cpu"]
                r = await client.get("/api/profile", headers=headers)
                baseline.append((inside["cpu"] - a0) * 1000)
                assert r.status_code == 200
            # The object's share: the same turns sent to a second conversation's object
            # directly (no route), with what the Worker would have read passed in.
            second = (await client.post("/api/chat/conversations", json={"concept": "Quadratics"}, headers=headers)
                      ).json()["id"]
            object_cpu = await _object_phase(host, counter, second, warmup, count)
            host.env.D1_PRIMARY = counter._db
        built = []
        learner = {"concept": "Quadratics", "prerequisites": [{"name": "Factoring", "mastery": 0.3}]}
        window = history[-prompt.HISTORY_MESSAGES - 8:]
        for _ in range(run.pick(2000, 300)):
            t0 = time.perf_counter()
            prompt.build_prompt(mode="study", page={"concept": "Quadratics"}, learner=learner,
                                summary=prompt.empty_summary(), history=window, budget_tokens=3000)
            built.append((time.perf_counter() - t0) * 1e6)
    finally:
        await host.aclose()
    tool_p99 = percentile(tool_cpu, 99)
    worker = [max(0.0, t - o) for t, o in zip(sorted(tool_cpu), sorted(object_cpu))]
    return [
        ("chat_messages_per_s", count / wall_total),
        ("chat_send_cpu_p50_ms", median(cpu)),
        ("chat_send_cpu_p99_ms", percentile(cpu, 99)),
        ("chat_model_cpu_p50_ms", median(model_cpu)),
        ("chat_d1_binding_cpu_p50_ms", median(binding_cpu)),
        ("chat_tool_cpu_p50_ms", median(tool_cpu)),
        ("chat_tool_cpu_p99_ms", tool_p99),
        ("chat_tool_cpu_budget_ratio_at_10x", tool_p99 * 10 / 50),
        ("chat_object_cpu_p50_ms", median(object_cpu)),
        ("chat_object_cpu_p99_ms", percentile(object_cpu, 99)),
        ("chat_worker_cpu_p50_ms", median(worker)),
        ("chat_worker_cpu_p99_ms", percentile(worker, 99)),
        ("chat_worker_cpu_budget_ratio_at_10x", percentile(worker, 99) * 10 / 50),
        ("baseline_profile_get_cpu_p50_ms", median(baseline)),
        ("chat_send_vs_profile_get_cpu_ratio", ratio(median(cpu), median(baseline))),
        ("chat_d1_round_trips_per_message", round_trips),
        ("chat_prompt_build_p50_us", median(built)),
    ]


async def _object_phase(host, counter: D1Counter, conversation_id: str, warmup: int, count: int) -> list[float]:
    """CPU per turn inside the conversation object alone (storing, prompt building,
    streaming pieces into storage, sealing, write-through), model and D1 excluded."""
    from chat import offline, prompt, service
    from db.database import Database
    from db.system import system_scope

    scope = system_scope({"id": TENANT, "d1_binding": "D1_PRIMARY"}, "bench")
    learner = (await Database(host.env).first(scope.select("learner_profiles", {"lti_user_id": "bench-learner"})))["id"]
    settings, usage = await service.settings_and_usage(host.env, Database(host.env), scope, "course-1", learner)
    turn = {"page": {"concept": "Quadratics"}, "learner": {"concept": "Quadratics"}, "settings": settings,
            "usage": usage, "d1_binding": "D1_PRIMARY"}
    stub = service.conversation_stub(host.env, TENANT, conversation_id)
    out, history = [], []
    for i in range(warmup + count):
        text = QUESTIONS[i % len(QUESTIONS)]
        d0 = counter.cpu_s
        c0 = time.process_time()
        sent = await stub.send("bench-learner", text, turn)
        reply = await stub.stream_from("bench-learner", sent["reply_seq"], 0, 5000, True)
        c1 = time.process_time()
        m0 = time.process_time()
        offline.reply({"message": text, "history": history[-prompt.HISTORY_MESSAGES:], "page": {},
                       "learner": {"concept": "Quadratics"}})
        m1 = time.process_time()
        history += [{"role": "user", "content": text}, {"role": "assistant", "content": reply["reply"]["content"]}]
        if i >= warmup:
            out.append(max(0.0, (c1 - c0 - (m1 - m0) - (counter.cpu_s - d0)) * 1000))
    return out


class _ServerThread:
    """The prepared host served by uvicorn on loopback in a thread with its own loop."""

    def __init__(self, state, values: dict) -> None:
        self.state = state
        self.values = values
        self.port = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.server = None

    def _run(self) -> None:
        import socket

        import uvicorn

        from devhost.host import LocalHost

        async def main():
            host = LocalHost(ROOT, state_root=self.state, dev_vars=self.values)
            await host.start()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(64)
            self.port = sock.getsockname()[1]
            self.server = uvicorn.Server(uvicorn.Config(host, lifespan="off", http="h11", loop="asyncio",
                                                        log_level="warning", access_log=False))
            task = asyncio.create_task(self.server.serve(sockets=[sock]))
            while not self.server.started:
                await asyncio.sleep(0.01)
            self.ready.set()
            await task
            await host.aclose()

        asyncio.run(main())

    def __enter__(self):
        self.thread.start()
        if not self.ready.wait(60):
            raise RuntimeError("chat bench server did not start")
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(30)


async def _request(port: int, raw: bytes, marker: bytes | None) -> tuple[float, float]:
    """(seconds to `marker` in the answer, or to its end; seconds to its end)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    t0 = time.perf_counter()
    writer.write(raw)
    buffer = b""
    first = None
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        buffer += chunk
        if first is None and marker is not None and marker in buffer:
            first = time.perf_counter() - t0
    end = time.perf_counter() - t0
    writer.close()
    if not buffer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"bench request failed: {buffer[:300]!r}")
    if marker is not None and first is None:
        raise RuntimeError("the stream never sent a delta")
    return (first if first is not None else end), end


async def _ttfb(run: BenchRun) -> list[tuple[str, float]]:
    import httpx

    count = run.pick(9, 4)  # sends to one conversation stay under the 10-a-minute rate
    state = run.tmpdir("chat-http-state")
    values = _vars()  # the same secrets for the server thread, so the token verifies there
    host, token = await _prepared_host(state, values=values)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host), base_url="http://bench") as client:
        cid = (await client.post("/api/chat/conversations", json={}, headers={"Authorization": f"Bearer {token}"})
               ).json()["id"]
    await host.aclose()
    ttfb, listing = [], []
    with _ServerThread(state, values) as server:
        for i in range(count):
            body = json.dumps({"content": QUESTIONS[i % len(QUESTIONS)]}).encode()
            send = (f"POST /api/chat/conversations/{cid}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
            first, _ = await _request(server.port, send, b"event: delta")
            get = (f"GET /api/chat/conversations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                   "Connection: close\r\n\r\n").encode()
            _, whole = await _request(server.port, get, None)
            if i > 0:  # the first of each is warm-up
                ttfb.append(first * 1000)
                listing.append(whole * 1000)
    return [
        ("chat_ttfb_p50_ms", median(ttfb)),
        ("chat_ttfb_p99_ms", percentile(ttfb, 99)),
        ("baseline_conversation_list_p50_ms", median(listing)),
        ("chat_ttfb_vs_list_ratio", ratio(median(ttfb), median(listing))),
    ]


@group("chat")
async def chat(run: BenchRun) -> list[tuple[str, float]]:
    quiet_data_layer_log()
    figures = await _throughput(run)
    figures += await _ttfb(run)
    return figures
