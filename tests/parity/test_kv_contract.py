"""KV contract: one set of expectations, run against devhost's local KV and miniflare's."""

from __future__ import annotations

import time

import pytest


async def test_get_missing(backend):
    kv = backend.kv
    assert await kv.get("missing") is None
    assert await kv.get("missing", type="json") is None
    got = await kv.getWithMetadata("missing")
    assert got["value"] is None and got["metadata"] is None


async def test_text_round_trip_and_overwrite(backend):
    kv = backend.kv
    await kv.put("greeting", "héllo ☃ 𝄞")
    assert await kv.get("greeting") == "héllo ☃ 𝄞"
    assert await kv.get("greeting", "text") == "héllo ☃ 𝄞"
    await kv.put("greeting", "bye")
    assert await kv.get("greeting", type="text") == "bye"


async def test_json_type(backend):
    kv = backend.kv
    await kv.put("doc", '{"a": [1, 2.5, "x", null, true], "b": {"c": "ü"}}')
    assert await kv.get("doc", type="json") == {"a": [1, 2.5, "x", None, True], "b": {"c": "ü"}}
    assert await kv.get("doc", {"type": "json"}) == {"a": [1, 2.5, "x", None, True], "b": {"c": "ü"}}
    got = await kv.getWithMetadata("doc", type="json")
    assert got["value"]["b"] == {"c": "ü"}
    # Not JSON: both refuse (the local binding with Python's JSON error, the runtime with
    # V8's "Unexpected token ..." SyntaxError).
    await kv.put("notjson", "x")
    with pytest.raises(Exception):
        await kv.get("notjson", type="json")


async def test_binary_values(backend):
    kv = backend.kv
    blob = bytes(range(256))
    await kv.put("bin", blob)
    assert await kv.get("bin", type="arrayBuffer") == blob
    await kv.put("txt", "ü")
    assert await kv.get("txt", type="arrayBuffer") == "ü".encode()


async def test_unknown_type_refused(backend):
    kv = backend.kv
    await kv.put("k", "v")
    with pytest.raises(Exception) as err:
        await kv.get("k", type="bogus")
    assert str(err.value) == (
        'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".'
    )


async def test_delete(backend):
    kv = backend.kv
    await kv.put("gone", "soon")
    await kv.delete("gone")
    assert await kv.get("gone") is None
    await kv.delete("never-there")  # no error


async def test_expiration_ttl_below_60_refused(backend):
    kv = backend.kv
    with pytest.raises(Exception) as err:
        await kv.put("ttl", "x", expirationTtl=30)
    assert "Expiration TTL must be at least 60" in str(err.value)
    assert str(err.value) == (
        "KV PUT failed: 400 Invalid expiration_ttl of 30. Expiration TTL must be at least 60."
    )
    with pytest.raises(Exception) as err:
        await kv.put("ttl", "x", expirationTtl=0)
    assert str(err.value) == "KV PUT failed: 400 Invalid expiration_ttl of 0. Please specify integer greater than 0."
    assert await kv.get("ttl") is None


async def test_expiration_ttl_accepted_and_listed(backend):
    kv = backend.kv
    before = int(time.time())
    await kv.put("ttl", "x", expirationTtl=120)
    assert await kv.get("ttl") == "x"
    (entry,) = (await kv.list(prefix="ttl"))["keys"]
    assert entry["name"] == "ttl"
    assert before + 120 - 2 <= entry["expiration"] <= int(time.time()) + 120 + 2


async def test_absolute_expiration_rules(backend):
    kv = backend.kv
    now = int(time.time())
    with pytest.raises(Exception) as err:
        await kv.put("exp", "x", expiration=now - 10)
    assert str(err.value) == (
        f"KV PUT failed: 400 Invalid expiration of {now - 10}. Please specify integer greater than the"
        " current number of seconds since the UNIX epoch."
    )
    with pytest.raises(Exception) as err:
        await kv.put("exp", "x", expiration=now + 30)
    assert str(err.value) == (
        f"KV PUT failed: 400 Invalid expiration of {now + 30}. Expiration times must be at least 60 seconds"
        " in the future."
    )
    await kv.put("exp", "x", expiration=now + 600)
    (entry,) = (await kv.list(prefix="exp"))["keys"]
    assert entry == {"name": "exp", "expiration": now + 600}


async def test_metadata_round_trip(backend):
    kv = backend.kv
    meta = {"owner": "ada", "tags": ["a", "ü"], "n": 3, "nested": {"ok": True, "none": None}}
    await kv.put("m", "value", metadata=meta)
    got = await kv.getWithMetadata("m")
    assert got["value"] == "value"
    assert got["metadata"] == meta
    assert got["cacheStatus"] is None
    listed = (await kv.list(prefix="m"))["keys"]
    assert listed == [{"name": "m", "metadata": meta}]
    # Overwriting without metadata drops it.
    await kv.put("m", "value2")
    got = await kv.getWithMetadata("m")
    assert got["metadata"] is None
    assert (await kv.list(prefix="m"))["keys"] == [{"name": "m"}]


async def test_metadata_too_large_refused(backend):
    with pytest.raises(Exception) as err:
        await backend.kv.put("big", "x", metadata={"a": "x" * 1100})
    assert str(err.value) == "KV PUT failed: 413 Metadata length of 1108 exceeds limit of 1024."


async def test_list_prefix(backend):
    kv = backend.kv
    for key in ["user:2", "user:1", "user:10", "users", "admin:1"]:
        await kv.put(key, key)
    res = await kv.list(prefix="user:")
    assert [k["name"] for k in res["keys"]] == ["user:1", "user:10", "user:2"]
    assert res["list_complete"] is True
    assert "cursor" not in res
    assert res["cacheStatus"] is None
    all_keys = [k["name"] for k in (await kv.list())["keys"]]
    assert all_keys == ["admin:1", "user:1", "user:10", "user:2", "users"]


async def test_list_limit_and_cursor_paging(backend):
    kv = backend.kv
    keys = [f"p/{i:02d}" for i in range(7)]
    for key in reversed(keys):
        await kv.put(key, "v")
    await kv.put("q/other", "v")
    seen, cursor, pages = [], None, 0
    while True:
        opts = {"prefix": "p/", "limit": 3}
        if cursor:
            opts["cursor"] = cursor
        res = await kv.list(**opts)
        pages += 1
        seen += [k["name"] for k in res["keys"]]
        if res["list_complete"]:
            assert "cursor" not in res
            break
        assert len(res["keys"]) == 3
        assert isinstance(res["cursor"], str) and res["cursor"]
        cursor = res["cursor"]
    assert seen == keys
    assert pages == 3


async def test_list_limit_bounds(backend):
    kv = backend.kv
    for key in ("a", "b"):
        await kv.put(key, "v")
    with pytest.raises(Exception) as err:
        await kv.list(limit=1001)
    assert str(err.value) == (
        "KV GET failed: 400 Invalid key_count_limit of 1001. Please specify an integer less than 1000."
    )
    # workerd leaves a zero limit out of the request, so the default (1000) applies.
    res = await kv.list(limit=0)
    assert [k["name"] for k in res["keys"]] == ["a", "b"]


async def test_key_rules(backend):
    kv = backend.kv
    with pytest.raises(Exception) as err:
        await kv.put("", "x")
    assert str(err.value) == "Key name cannot be empty."
    with pytest.raises(Exception) as err:
        await kv.get("")
    assert str(err.value) == "Key name cannot be empty."
    for key in (".", ".."):
        with pytest.raises(Exception) as err:
            await kv.put(key, "x")
        assert str(err.value) == f'"{key}" is not allowed as a key name.'
    with pytest.raises(Exception) as err:
        await kv.put("k" * 513, "x")
    assert str(err.value) == "KV PUT failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512."
    long_ok = "é" * 256  # 512 bytes
    await kv.put(long_ok, "fits")
    assert await kv.get(long_ok) == "fits"


async def test_cache_ttl_minimum(backend):
    kv = backend.kv
    await kv.put("c", "v")
    assert await kv.get("c", cacheTtl=60) == "v"
    with pytest.raises(Exception) as err:
        await kv.get("c", cacheTtl=10)
    assert str(err.value) == "KV GET failed: 400 Invalid cache_ttl of 10. Cache TTL must be at least 30."
