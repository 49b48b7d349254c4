"""What the Worker's code gets from `env` on the deploy path: the SDK's wrappers over the
bindings' JS objects, with the RPC value conversion on every call (python_to_rpc in,
python_from_rpc out), Durable Objects built from the classes src/entry.py exports
through the SDK's DurableObject base, and outbound HTTP through entry.py's transport."""

from __future__ import annotations

import pytest

from devhost.bindings.durable_objects import DurableObjectNamespace
from devhost.runtime import LocalRuntime, jv, sdk


def worker_env(host):
    """env as the SDK hands it to the Worker's code."""
    return sdk()._EnvWrapper(host.runtime.js_env)


async def test_bindings_are_the_sdk_wrappers_of_js_objects_named_as_on_cloudflare(host):
    env = worker_env(host)
    assert type(env.D1_PRIMARY).__name__ == "_BindingWrapper" and env.D1_PRIMARY._binding.js_name == "D1Database"
    assert env.PROFILE_CACHE._binding.js_name == "KvNamespace" and env.EXPORTS._binding.js_name == "R2Bucket"
    assert type(env.OIDC_STATE).__name__ == "_DurableObjectNamespaceWrapper"
    assert type(env.EXPORT_WORKFLOW).__name__ == "_WorkflowBindingWrapper"
    assert env.TOOL_TITLE == "Atomic Guide"  # vars stay strings


async def test_d1_values_cross_as_rpc_converts_them(host):
    env = worker_env(host)
    stmt = env.D1_PRIMARY.prepare("SELECT ?1 AS missing, ?2 AS real, ?3 AS blob, ?4 AS text")
    result = await stmt.bind(None, 3.0, b"\x01\x02", "é").all()
    row = result["results"][0]
    # None is bound as NULL and comes back None; an integral REAL is a JS number: int.
    assert row == {"missing": None, "real": 3, "blob": [1, 2], "text": "é"} and type(row["real"]) is int
    assert result.success is True and "changes" in result.meta  # JsDict: keys as attributes too
    with pytest.raises(TypeError, match="tuple"):
        env.D1_PRIMARY.prepare("SELECT ?1").bind((1, 2))


async def test_a_failing_d1_statement_raises_the_js_error_the_runtime_throws(host):
    env = worker_env(host)
    with pytest.raises(jv.JsException) as caught:
        await env.D1_PRIMARY.prepare("SELECT * FROM no_such_table").all()
    assert caught.value.name == "Error" and "no such table" in str(caught.value)


async def test_kv_options_travel_as_the_trailing_object(host):
    env = worker_env(host)
    await env.PROFILE_CACHE.put("k", '{"a": [1, 2]}', expirationTtl=120)
    assert await env.PROFILE_CACHE.get("k", type="json") == {"a": [1, 2]}
    assert await env.PROFILE_CACHE.get("missing") is None
    with pytest.raises(jv.JsException, match="at least 60"):
        await env.PROFILE_CACHE.put("k", "v", expirationTtl=5)


async def test_durable_objects_are_the_classes_entry_exports_built_through_the_sdk(client, host):
    assert (await client.get("/health")).status_code == 200  # pings every Durable Object
    workers = sdk()
    for binding, cls_name in (("OIDC_STATE", "OIDCStateDurableObject"), ("STRUGGLE_DETECTOR", "StruggleDetectorDO"),
                              ("CHAT_CONVERSATIONS", "ChatConversationDO")):
        (live,) = host.durable_objects[binding]._live.values()
        instance = live.instance
        assert type(instance) is getattr(host.entry, cls_name) and isinstance(instance, workers.DurableObject)
        assert type(instance.ctx).__name__ == "DurableObjectContext" and type(instance.env).__name__ == "_EnvWrapper"
        assert type(instance.ctx.storage).__name__ == "_BindingWrapper"


class Keeper(sdk().DurableObject):
    async def keep(self, value: dict) -> dict:
        value["kept"] = True
        return value

    async def pair(self):
        return (1, 2)

    async def echo(self, *values):
        return list(values)

    async def boom(self):
        raise ValueError("no")


@pytest.fixture
async def keeper_env(tmp_path):
    runtime = LocalRuntime()
    ns = DurableObjectNamespace("KEEPER", Keeper, tmp_path / "do", lambda: None, runtime=runtime)
    runtime.js_env._values["KEEPER"] = ns
    yield sdk()._EnvWrapper(runtime.js_env)
    await ns.aclose()


async def test_rpc_arguments_and_results_are_copies(keeper_env):
    sent = {"n": [1, 2]}
    back = await keeper_env.KEEPER.getByName("a").keep(sent)
    assert back == {"n": [1, 2], "kept": True} and sent == {"n": [1, 2]}


async def test_keyword_arguments_cross_rpc_as_one_trailing_object(keeper_env):
    assert await keeper_env.KEEPER.getByName("a").echo(1, mode="x") == [1, {"mode": "x"}]


async def test_a_tuple_cannot_cross_rpc_either_way(keeper_env):
    stub = keeper_env.KEEPER.getByName("a")
    with pytest.raises(TypeError, match="tuple"):
        await stub.keep((1, 2))
    with pytest.raises(jv.JsException, match="tuple"):
        await stub.pair()


async def test_an_exception_in_a_durable_object_reaches_the_caller_as_a_js_error(keeper_env):
    with pytest.raises(jv.JsException) as caught:
        await keeper_env.KEEPER.getByName("a").boom()
    assert caught.value.name == "PythonError" and "ValueError: no" in caught.value.message
    with pytest.raises(jv.JsException, match="does not implement"):
        await keeper_env.KEEPER.getByName("a")._private()


async def test_outbound_http_goes_through_entry_transport_and_the_runtime_fetch(host, monkeypatch):
    import sys

    import httpx

    from lti import http as lti_http
    from tests.conftest import LoopbackServer

    assert lti_http._transport is host.entry._fetch_transport
    calls = []
    real_fetch = sys.modules["js"].fetch
    monkeypatch.setattr(sys.modules["js"], "fetch", jv.JsFunction(lambda *a: calls.append(a) or real_fetch(*a)))

    async def platform(scope, receive, send):
        headers = dict(scope["headers"])
        body = b'{"probe": "%s"}' % headers.get(b"x-probe", b"")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"x-reply", b"1")]})
        await send({"type": "http.response.body", "body": body})

    with LoopbackServer(platform) as server:
        response = await lti_http.request("GET", server.url + "/jwks", {"x-probe": "seen"})
    assert response.status == 200 and response.json() == {"probe": "seen"}
    assert response.headers["x-reply"] == "1"
    assert len(calls) == 1 and calls[0][0] == server.url + "/jwks"
    del httpx
