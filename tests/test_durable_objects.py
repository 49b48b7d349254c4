"""Local Durable Objects: one instance per id, serialized calls, SQLite storage, alarms
that fire after a restart, RPC copying."""

import asyncio
import time

import pytest

from devhost.bindings.durable_objects import DurableObjectNamespace
from devhost.bindings._common import FaultPlan


class Counter:
    def __init__(self, ctx, env):
        self.ctx, self.env = ctx, env
        self.instance_calls = 0
        self.active = 0
        self.max_active = 0

    async def bump(self, n: int) -> int:
        self.instance_calls += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        current = (await self.ctx.storage.get("n")) or 0
        await asyncio.sleep(0.002)  # a real await inside the call: others must wait
        await self.ctx.storage.put("n", current + n)
        self.active -= 1
        return current + n

    async def stats(self) -> dict:
        return {"calls": self.instance_calls, "max_active": self.max_active}

    async def echo(self, value):
        return value

    async def mutate(self, value: dict) -> dict:
        value["touched"] = True
        return value

    async def sql_roundtrip(self) -> list:
        self.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (a INTEGER, b TEXT)")
        self.ctx.storage.sql.exec("INSERT INTO t VALUES (?, ?)", 1, "é")
        return self.ctx.storage.sql.exec("SELECT a, b FROM t").toArray()

    async def arm(self, at_ms: int) -> None:
        await self.ctx.storage.setAlarm(at_ms)

    async def fired(self):
        return await self.ctx.storage.get("fired")

    async def alarm(self, info=None):
        await self.ctx.storage.put("fired", (await self.ctx.storage.get("fired") or 0) + 1)


def _ns(tmp_path):
    return DurableObjectNamespace("COUNTER", Counter, tmp_path / "do", lambda: None, FaultPlan(),
                                  alarm_retry_base_s=0.01)


async def test_calls_to_one_object_are_serialized_and_share_one_instance(tmp_path):
    ns = _ns(tmp_path)
    stub = ns.getByName("a")
    results = await asyncio.gather(*(stub.bump(1) for _ in range(20)))
    assert sorted(results) == list(range(1, 21))  # no lost update
    assert await stub.stats() == {"calls": 20, "max_active": 1}
    assert await ns.getByName("b").bump(5) == 5  # another id, another object
    await ns.aclose()


async def test_storage_persists_across_a_restart(tmp_path):
    ns = _ns(tmp_path)
    await ns.getByName("a").bump(3)
    assert await ns.getByName("a").sql_roundtrip() == [{"a": 1, "b": "é"}]
    await ns.aclose()
    ns2 = _ns(tmp_path)
    assert await ns2.getByName("a").bump(1) == 4
    await ns2.aclose()


async def test_rpc_copies_values_and_refuses_tuples(tmp_path):
    ns = _ns(tmp_path)
    stub = ns.getByName("a")
    sent = {"x": [1, 2]}
    back = await stub.mutate(sent)
    assert back == {"x": [1, 2], "touched": True} and sent == {"x": [1, 2]}
    with pytest.raises(TypeError, match="tuple"):
        await stub.echo((1, 2))
    with pytest.raises(TypeError, match="does not implement"):
        await stub.nope()
    await ns.aclose()


async def test_alarm_fires_after_the_host_restarts(tmp_path):
    ns = _ns(tmp_path)
    await ns.getByName("a").arm(int(time.time() * 1000) + 400)
    await ns.aclose()  # host stops before the alarm is due
    ns2 = _ns(tmp_path)
    assert ns2.resume_alarms() == 1
    for _ in range(100):
        if await ns2.getByName("a").fired():
            break
        await asyncio.sleep(0.02)
    assert await ns2.getByName("a").fired() == 1
    await ns2.aclose()


async def test_injected_fault_makes_the_namespace_unavailable(tmp_path):
    from devhost.bindings._common import Fault

    faults = FaultPlan()
    ns = DurableObjectNamespace("COUNTER", Counter, tmp_path / "do", lambda: None, faults)
    faults.set("COUNTER", Fault(mode="unavailable"))
    with pytest.raises(Exception, match="Network connection lost"):
        await ns.getByName("a").bump(1)
    faults.clear()
    assert await ns.getByName("a").bump(1) == 1
    await ns.aclose()


async def test_oidc_state_is_single_use(host):
    stub = host.env.OIDC_STATE.getByName("state-123")
    assert await stub.create({"nonce": "n1", "issuer": "https://canvas.instructure.com"}) is True
    assert await stub.create({"nonce": "n2"}) is False
    first = await stub.consume()
    assert first == {"status": "ok", "record": {"nonce": "n1", "issuer": "https://canvas.instructure.com"}}
    assert await stub.consume() == {"status": "used"}
    assert await host.env.OIDC_STATE.getByName("never-issued").consume() == {"status": "unknown"}

