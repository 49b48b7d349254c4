"""The local Workflows binding: the binding and instance surface, step results persisted
and replayed, retries with backoff, NonRetryableError, sleep, resume after a restart."""

import pytest

from devhost.bindings._common import HostCrashed
from devhost.bindings.workflows import LocalWorkflow, WorkflowError, duration_s, retry_delay_s
from devhost.runtime import LocalRuntime
from devhost.runtime_shim import NonRetryableError, WorkflowEntrypoint

CALLS: list = []


class Scripted(WorkflowEntrypoint):
    """Runs the steps its params describe: {"steps": [{"name", "fail": n, "fatal": bool}],
    "sleep": seconds, "crash_after": step name}."""

    async def run(self, event, step):
        out = []
        for spec in event["payload"].get("steps", []):
            def make(spec=spec):
                async def body(ctx):
                    CALLS.append((event["instanceId"], spec["name"], ctx["attempt"]))
                    if ctx["attempt"] <= spec.get("fail", 0):
                        if spec.get("fatal"):
                            raise NonRetryableError(f"{spec['name']} refused")
                        raise RuntimeError(f"{spec['name']} failed")
                    data = "x" * spec["big"] if "big" in spec else spec.get("data")
                    return {"name": spec["name"], "attempt": ctx["attempt"], "data": data}
                return body

            out.append(await step.do(spec["name"], config=spec.get("config"))(make())())
            if event["payload"].get("crash_after") == spec["name"] and event["payload"].get("crash", [True])[0]:
                raise HostCrashed("killed")
            if "sleep" in event["payload"] and spec is event["payload"]["steps"][0]:
                await step.sleep("nap", event["payload"]["sleep"])
        return out


def make_wf(tmp_path, sleeper=None, **kw):
    delays = []

    async def record(seconds):
        delays.append(seconds)

    wf = LocalWorkflow("WF", "test-wf", "Scripted", tmp_path / "wf.sqlite", lambda: Scripted, lambda: object(),
                       sleeper=sleeper or record, runtime=LocalRuntime(), **kw)
    wf.delays = delays
    return wf


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()
    yield
    CALLS.clear()


async def test_create_runs_the_instance_and_status_reports_its_output(tmp_path):
    wf = make_wf(tmp_path)
    instance = await wf.create(id="one", params={"steps": [{"name": "a"}, {"name": "b", "data": [1, "é"]}]})
    assert instance.id == "one"
    await wf.idle()
    status = await (await wf.get("one")).status()
    assert status["status"] == "complete"
    assert status["output"] == [{"name": "a", "attempt": 1, "data": None}, {"name": "b", "attempt": 1, "data": [1, "é"]}]
    assert len(status["__LOCAL_DEV_STEP_OUTPUTS"]) == 2
    wf.close()


async def test_ids_are_unique_and_validated_like_cloudflare(tmp_path):
    wf = make_wf(tmp_path)
    await wf.create(id="same", params={})
    with pytest.raises(WorkflowError, match=r'\(instance.already_exists\) Workflow instance with id "same" already exists'):
        await wf.create({"id": "same", "params": {}})
    with pytest.raises(WorkflowError, match="invalid id"):
        await wf.create(id="no spaces allowed")
    with pytest.raises(WorkflowError, match="instance.not_found"):
        await wf.get("never-made")
    batch = await wf.create_batch([{"id": "b1"}, {"id": "b2", "params": {"steps": []}}])
    assert [i.id for i in batch] == ["b1", "b2"]
    await wf.idle()
    wf.close()


async def test_failed_attempts_are_retried_with_the_configured_backoff(tmp_path):
    wf = make_wf(tmp_path)
    cfg = {"retries": {"limit": 3, "delay": "1 second", "backoff": "exponential"}}
    await wf.create(id="r", params={"steps": [{"name": "flaky", "fail": 2, "config": cfg}]})
    await wf.idle()
    status = await (await wf.get("r")).status()
    assert status["status"] == "complete" and status["output"][0]["attempt"] == 3
    assert wf.delays == [1.0, 2.0]
    wf.close()


async def test_a_step_that_keeps_failing_errors_the_instance_after_its_retries(tmp_path):
    wf = make_wf(tmp_path)
    cfg = {"retries": {"limit": 2, "delay": 500, "backoff": "linear"}}
    await wf.create(id="e", params={"steps": [{"name": "bad", "fail": 99, "config": cfg}, {"name": "never"}]})
    await wf.idle()
    status = await (await wf.get("e")).status()
    # run() is called from JS: the step's Python error is recorded as the PythonError
    # the platform sees, its traceback ending with the exception.
    assert status["status"] == "errored" and status["error"]["name"] == "PythonError"
    assert status["error"]["message"].rstrip().endswith("RuntimeError: bad failed")
    assert wf.delays == [0.5, 1.0] and [c[1] for c in CALLS] == ["bad"] * 3
    wf.close()


async def test_a_non_retryable_error_ends_the_instance_at_once(tmp_path):
    wf = make_wf(tmp_path)
    await wf.create(id="f", params={"steps": [{"name": "no", "fail": 1, "fatal": True}]})
    await wf.idle()
    status = await (await wf.get("f")).status()
    assert status["status"] == "errored" and "NonRetryableError" in status["error"]["message"]
    assert wf.delays == []
    wf.close()


async def test_completed_steps_are_not_run_again_after_a_restart(tmp_path):
    wf = make_wf(tmp_path)
    await wf.create(id="c", params={"steps": [{"name": "a"}, {"name": "b"}], "crash_after": "a"})
    await wf.idle()
    assert (await (await wf.get("c")).status())["status"] == "running"
    wf.close()

    # a new engine on the same file resumes; the crash is not repeated this time
    wf = make_wf(tmp_path)
    import devhost.bindings.workflows as w

    row = wf._row("c")
    wf._conn.execute("UPDATE instances SET params = ? WHERE id = ?",
                     (w._encode({**w._decode(row["params"]), "crash": [False]}), "c"))
    assert wf.resume_pending() == 1
    await wf.idle()
    status = await (await wf.get("c")).status()
    assert status["status"] == "complete"
    assert [c[1] for c in CALLS] == ["a", "b"]  # "a" ran once in all
    wf.close()


async def test_sleep_is_persisted_and_waits_through_the_sleeper(tmp_path):
    wf = make_wf(tmp_path, now=lambda: 1000.0)
    await wf.create(id="s", params={"steps": [{"name": "a"}, {"name": "b"}], "sleep": "2 minutes"})
    await wf.idle()
    assert (await (await wf.get("s")).status())["status"] == "complete"
    assert wf.delays == [120.0]
    wf.close()


async def test_terminate_stops_an_instance_and_cannot_terminate_twice(tmp_path):
    import asyncio

    gate = asyncio.Event()

    async def blocked(seconds):
        await gate.wait()

    wf = make_wf(tmp_path, sleeper=blocked)
    instance = await wf.create(id="t", params={"steps": [{"name": "a"}, {"name": "b"}], "sleep": 5})
    await asyncio.sleep(0)  # let it reach its sleep
    for _ in range(20):
        if (await instance.status())["status"] == "waiting":
            break
        await asyncio.sleep(0)
    await instance.terminate()
    gate.set()
    await wf.idle()
    assert (await instance.status())["status"] == "terminated"
    with pytest.raises(WorkflowError, match="finite state"):
        await instance.terminate()
    wf.close()


async def test_step_limit_and_result_size_are_enforced(tmp_path):
    wf = make_wf(tmp_path, step_limit=1)
    await wf.create(id="l", params={"steps": [{"name": "a"}, {"name": "b"}]})
    await wf.create(id="big", params={"steps": [{"name": "a", "big": 1024 * 1024 + 10}]})
    with pytest.raises(WorkflowError, match="payload is too large"):
        await wf.create(id="huge", params={"x": "y" * (1024 * 1024)})
    await wf.idle()
    assert "limit of 1 steps" in (await (await wf.get("l")).status())["error"]["message"]
    assert "too large" in (await (await wf.get("big")).status())["error"]["message"]
    wf.close()


def test_durations_and_backoff_follow_the_workflows_rules():
    assert duration_s(1500) == 1.5 and duration_s("10 seconds") == 10 and duration_s("1 minute") == 60
    with pytest.raises(WorkflowError):
        duration_s("soon")
    cfg = {"retries": {"delay": "2 seconds", "backoff": "exponential", "limit": 5}}
    assert [retry_delay_s(cfg, n) for n in (1, 2, 3)] == [2, 4, 8]
    cfg["retries"]["backoff"] = "constant"
    assert [retry_delay_s(cfg, n) for n in (1, 2, 3)] == [2, 2, 2]


async def test_pause_resume_restart_and_sleep_until(tmp_path):
    import asyncio
    from datetime import UTC, datetime

    wf = make_wf(tmp_path, now=lambda: 100.0)
    gate = asyncio.Event()

    async def hold(seconds):
        wf.delays.append(seconds)
        await gate.wait()

    wf.sleeper = hold
    instance = await wf.create(id="p", params={"steps": [{"name": "a"}, {"name": "b"}], "sleep": 1000})
    for _ in range(50):
        if wf.delays:
            break
        await asyncio.sleep(0)
    await instance.pause()
    assert (await instance.status())["status"] == "paused"
    gate.set()
    await instance.resume()
    await wf.idle()
    assert (await instance.status())["status"] == "complete"
    await instance.restart()
    await wf.idle()
    assert (await instance.status())["status"] == "complete" and [c[1] for c in CALLS].count("a") == 2

    class Until(WorkflowEntrypoint):
        async def run(self, event, step):
            await step.sleep_until("until", datetime.fromtimestamp(160, UTC))
            return "woke"

    until = LocalWorkflow("U", "until", "Until", tmp_path / "u.sqlite", lambda: Until, lambda: None,
                          sleeper=wf.sleeper, now=lambda: 100.0, runtime=LocalRuntime())
    await until.create(id="u")
    await until.idle()
    assert (await (await until.get("u")).status())["output"] == "woke" and wf.delays[-1] == 60.0
    with pytest.raises(TypeError):
        await until.create("not options")
    until.close()
    wf.close()


async def test_a_bad_step_config_or_parameter_fails_the_instance(tmp_path):
    class Bad(WorkflowEntrypoint):
        async def run(self, event, step):
            if event["payload"] == "param":
                @step.do("x")
                async def x(unknown):
                    return 1

                await x()  # the SDK resolves a step's dependencies when it runs
            await step.do("y", config={"retries": {"limit": -1}})(lambda: 1)()

    wf = LocalWorkflow("B", "bad", "Bad", tmp_path / "b.sqlite", lambda: Bad, lambda: None, runtime=LocalRuntime())
    await wf.create(id="c", params="config")
    await wf.create(id="p", params="param")
    await wf.idle()
    assert "invalid format" in (await (await wf.get("c")).status())["error"]["message"]
    assert "unexpected parameter" in (await (await wf.get("p")).status())["error"]["message"]
    wf.close()
