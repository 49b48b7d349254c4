"""Workflows contract: one set of expectations, run against devhost's local engine and
miniflare's (the probe worker's ProbeWorkflow under wrangler dev). The same scripted
workflow runs on both: steps that fail n times, NonRetryableError, a sleep.

Measured here on both: create with an id, duplicate and invalid ids refused, unknown id
refused, step results as the instance output, retries up to `retries.limit` (attempt
numbers in the step context), the instance errored once retries are spent, a
NonRetryableError not retried, sleep, terminate. Asserted from the documentation only
(not observable through the binding): results persisted across a process restart,
the 1,024-step and 1 MiB limits, backoff delays (tests/backups/test_local_workflows.py)."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from .remote import RemoteBindingError

NO_DELAY = {"retries": {"limit": 2, "delay": 0, "backoff": "constant"}}


def new_id() -> str:
    return f"t-{secrets.token_hex(8)}"


async def settled(instance, until=("complete", "errored", "terminated"), timeout_s=30.0) -> dict:
    """The instance's status once it reaches one of `until` (miniflare runs it in
    another process, so its progress can only be polled)."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = await instance.status()
        if status["status"] in until or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


def _error_text(exc: BaseException) -> str:
    return str(exc)


async def test_an_instance_runs_its_steps_and_reports_their_output(wf):
    instance = await wf.create(id=new_id(), params={"steps": [{"name": "a", "data": [1, "é"]}, {"name": "b"}]})
    status = await settled(instance)
    assert status["status"] == "complete"
    assert status["output"] == [{"name": "a", "attempt": 1, "data": [1, "é"]}, {"name": "b", "attempt": 1, "data": None}]
    assert "error" not in status or status["error"] is None


async def test_a_taken_id_is_refused_and_an_unknown_one_is_not_found(wf):
    taken = new_id()
    await settled(await wf.create(id=taken, params={}))
    with pytest.raises((RemoteBindingError, Exception)) as dup:
        await wf.create(id=taken, params={})
    assert "instance.already_exists" in _error_text(dup.value) and taken in _error_text(dup.value)
    with pytest.raises(Exception) as missing:
        await wf.get(new_id())
    assert "instance.not_found" in _error_text(missing.value)
    with pytest.raises(Exception) as bad:
        await wf.create(id="spaces are not allowed", params={})
    assert "invalid id" in _error_text(bad.value)


async def test_a_failing_step_is_retried_up_to_its_limit(wf):
    ok = await wf.create(id=new_id(), params={"steps": [{"name": "flaky", "fail": 2, "config": NO_DELAY}]})
    status = await settled(ok)
    assert status["status"] == "complete" and status["output"][0]["attempt"] == 3

    spent = await wf.create(id=new_id(), params={"steps": [{"name": "bad", "fail": 3, "config": NO_DELAY},
                                                           {"name": "never"}]})
    status = await settled(spent)
    assert status["status"] == "errored"
    assert "bad failed" in status["error"]["message"]


async def test_a_non_retryable_error_is_not_retried_and_run_can_catch_it(wf):
    instance = await wf.create(id=new_id(), params={"steps": [{"name": "no", "fail": 1, "fatal": True,
                                                              "config": NO_DELAY}]})
    status = await settled(instance)
    # Uncaught, the instance errors with a generic message (the step's text is not kept
    # without the workflows_preserve_non_retryable_error_message flag) ...
    assert status["status"] == "errored" and "NonRetryableError" in status["error"]["message"]
    # ... so code that must report why catches it in run(): the message arrives intact.
    caught = await wf.create(id=new_id(), params={"catch": True, "steps": [{"name": "no", "fail": 1, "fatal": True,
                                                                           "config": NO_DELAY}]})
    status = await settled(caught)
    assert status["status"] == "complete"
    # (JS sees "NonRetryableError: no refused"; the Python SDK's _from_js_error turns that
    # back into NonRetryableError("no refused").)
    assert status["output"]["caught"]["message"].endswith("no refused")


async def test_an_instance_sleeps_then_goes_on(wf):
    instance = await wf.create(id=new_id(), params={"steps": [{"name": "a"}, {"name": "b"}], "sleep": "1 second"})
    status = await settled(instance)
    assert status["status"] == "complete" and [s["name"] for s in status["output"]] == ["a", "b"]


async def test_a_sleeping_instance_can_be_terminated(wf):
    instance = await wf.create(id=new_id(), params={"steps": [{"name": "a"}, {"name": "b"}], "sleep": "1 hour"})
    deadline = time.monotonic() + 30
    while len((await instance.status())["__LOCAL_DEV_STEP_OUTPUTS"]) < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # until step "a" is done and the instance sleeps
    assert (await instance.status())["status"] in ("running", "waiting")  # miniflare says running
    await instance.terminate()
    assert (await settled(instance, until=("terminated",)))["status"] == "terminated"
