"""Load over real HTTP on loopback: 200 learning sessions at once, each sending 60 signals
in six batches of ten (the last one as the page is left). Every accepted signal is
counted in its session's object, every event the objects decided is in D1 exactly once,
no answer is a 5xx. The host's clock is manual, so the minute of each session's limit
and every decision are the same on any machine, however slow."""

import asyncio
import json
import sqlite3

from auth.tokens import mint_session_token
from devhost.clock import ManualClock
from struggle.report import iso
from struggle.service import object_name
from tests.conftest import LEARNER, TENANT_A, loopback_host

SESSIONS = 200
BATCHES = 6
PER_BATCH = 10


def session_id(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def seed(host) -> None:
    """Profiles and learning sessions as launches leave them (straight into the D1 file)."""
    now = iso(int(host.clock.now() * 1000))
    conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
    conn.executemany("INSERT INTO learner_profiles (id, tenant_id, lti_user_id) VALUES (?, ?, ?)",
                     [(f"10000000-0000-4000-8000-{i:012d}", TENANT_A, f"load-{i}") for i in range(SESSIONS)])
    conn.executemany("INSERT INTO learning_sessions (id, tenant_id, learner_id, course_context, session_start) "
                     "VALUES (?, ?, ?, 'course-1', ?)",
                     [(session_id(i), TENANT_A, f"10000000-0000-4000-8000-{i:012d}", now) for i in range(SESSIONS)])
    conn.commit()
    conn.close()


def batch(i: int, b: int, now_ms: int) -> list[dict]:
    """Deterministic behaviour: a long idle in the first batch (struggle, one offer), then
    reading and scrolling."""
    out = []
    for k in range(PER_BATCH):
        if b == 0 and k == 0:
            out.append({"type": "idle", "t": now_ms, "ms": 200_000})
        elif k % 3 == 0:
            out.append({"type": "scroll", "t": now_ms, "dy_px": 300 + 10 * k, "ms": 500})
        else:
            out.append({"type": "dwell", "t": now_ms, "ms": 2000 + 100 * k, "target": f"s{(i + k) % 5}"})
    return out


class Connection:
    """One keep-alive HTTP/1.1 connection (as a browser tab holds one): a few lines of
    asyncio streams, because a general client's pool bookkeeping for 200 concurrent
    learners costs more CPU than the server under test on a 2-core machine."""

    def __init__(self, url: str) -> None:
        self.host, _, port = url.removeprefix("http://").partition(":")
        self.port = int(port)

    async def __aenter__(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc):
        self.writer.close()
        await self.writer.wait_closed()

    async def post(self, path: str, token: str, body: dict) -> tuple[int, dict, dict]:
        data = json.dumps(body).encode()
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
                          f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        payload = await self.reader.readexactly(int(headers["content-length"]))
        return status, headers, json.loads(payload)


def test_two_hundred_sessions_send_sixty_signals_each_over_http(tmp_path):
    with loopback_host(tmp_path / "state", clock=ManualClock()) as server:
        host = server.host
        seed(host)
        now_ms = int(host.clock.now() * 1000)
        tokens = [mint_session_token(host.env, tenant_id=TENANT_A, lti_user_id=f"load-{i}", context_id="course-1",
                                     roles=[LEARNER], learning_session_id=session_id(i)) for i in range(SESSIONS)]

        async def learner(i: int) -> tuple[list[int], dict]:
            statuses, body = [], {}
            async with Connection(server.url) as conn:
                for b in range(BATCHES):
                    status, _, body = await conn.post("/api/signals", tokens[i], {
                        "signals": batch(i, b, now_ms), "final": b == BATCHES - 1})
                    statuses.append(status)
            return statuses, body

        async def run():
            results = await asyncio.gather(*(learner(i) for i in range(SESSIONS)))
            async with Connection(server.url) as conn:
                over = [await conn.post("/api/signals", tokens[i], {"signals": batch(i, 1, now_ms)[:1]})
                        for i in range(5)]
            return results, over

        results, over = asyncio.run(run())

        statuses = [s for r in results for s in r[0]]
        assert len(statuses) == SESSIONS * BATCHES and set(statuses) == {200}  # no 5xx, nothing refused
        assert all(body["session_signals"] == BATCHES * PER_BATCH for _, body in results)
        assert [status for status, _, _ in over] == [429] * 5
        assert all(headers["retry-after"] == "60" for _, headers, _ in over)

        # every accepted signal is counted in its object, and the objects have nothing left to write
        namespace = host.durable_objects["STRUGGLE_DETECTOR"]
        decided: dict[str, set[str]] = {}
        for i in range(SESSIONS):
            path = namespace.directory / f"{namespace.idFromName(object_name(TENANT_A, session_id(i))).toString()}.sqlite"
            conn = sqlite3.connect(path)
            try:
                counted = conn.execute("SELECT value FROM counter WHERE name = 'signals_total'").fetchone()[0]
                held = conn.execute("SELECT count(*) FROM signal").fetchone()[0]
                pending = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
                decided[session_id(i)] = {r[0] for r in conn.execute("SELECT id FROM event")}
            finally:
                conn.close()
            assert (counted, held, pending) == (60, 60, 0), i

        # every event decided is in D1 exactly once, with its offer, and each session's summary
        conn = sqlite3.connect(host.d1["D1_PRIMARY"].path)
        try:
            events = conn.execute("SELECT session_id, id FROM struggle_events").fetchall()
            offers = conn.execute("SELECT session_id, count(*) FROM intervention_logs GROUP BY session_id").fetchall()
            summaries = conn.execute("SELECT behavioral_signals FROM learning_sessions").fetchall()
        finally:
            conn.close()
        in_d1: dict[str, set[str]] = {}
        for sid, eid in events:
            in_d1.setdefault(sid, set()).add(eid)
        assert len(events) == len({eid for _, eid in events}) == SESSIONS
        assert in_d1 == decided and all(len(ids) == 1 for ids in decided.values())
        assert sorted(n for _, n in offers) == [1] * SESSIONS
        assert [json.loads(s)["signals_total"] for (s,) in summaries] == [60] * SESSIONS
