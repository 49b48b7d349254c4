"""R2 contract: one set of expectations, run against devhost's local R2 and miniflare's."""

from __future__ import annotations

import hashlib

import pytest

MiB = 1024 * 1024
PART = 5 * MiB  # R2's minimum size for every part but the last


async def test_put_get_head_delete(backend):
    r2 = backend.r2
    body = "héllo ☃".encode()
    put = await r2.put(
        "docs/a.txt",
        body,
        httpMetadata={"contentType": "text/plain; charset=utf-8"},
        customMetadata={"owner": "ada", "n": "1"},
    )
    md5 = hashlib.md5(body).hexdigest()
    assert (put.key, put.size, put.etag, put.httpEtag) == ("docs/a.txt", len(body), md5, f'"{md5}"')
    assert put.customMetadata == {"owner": "ada", "n": "1"}
    assert put.httpMetadata == {"contentType": "text/plain; charset=utf-8"}

    got = await r2.get("docs/a.txt")
    assert (got.key, got.size, got.etag, got.httpEtag) == ("docs/a.txt", len(body), md5, f'"{md5}"')
    assert got.customMetadata == {"owner": "ada", "n": "1"}
    assert got.httpMetadata == {"contentType": "text/plain; charset=utf-8"}
    assert await got.text() == "héllo ☃"

    again = await r2.get("docs/a.txt")
    assert await again.arrayBuffer() == body

    head = await r2.head("docs/a.txt")
    assert (head.key, head.size, head.etag) == ("docs/a.txt", len(body), md5)
    assert head.customMetadata == {"owner": "ada", "n": "1"}
    assert head.version == put.version

    await r2.delete("docs/a.txt")
    assert await r2.head("docs/a.txt") is None
    assert await r2.get("docs/a.txt") is None


async def test_missing_objects(backend):
    r2 = backend.r2
    assert await r2.get("nope") is None
    assert await r2.head("nope") is None
    await r2.delete("nope")  # no error


async def test_string_and_empty_bodies(backend):
    r2 = backend.r2
    await r2.put("s", "plain text")
    assert await (await r2.get("s")).text() == "plain text"
    empty = await r2.put("e", b"")
    assert empty.size == 0
    assert empty.etag == hashlib.md5(b"").hexdigest()
    assert await (await r2.get("e")).arrayBuffer() == b""


async def test_overwrite_changes_version_and_etag(backend):
    r2 = backend.r2
    first = await r2.put("k", b"one")
    second = await r2.put("k", b"two")
    assert first.version != second.version
    assert second.etag == hashlib.md5(b"two").hexdigest()
    assert await (await r2.get("k")).arrayBuffer() == b"two"


async def test_delete_many(backend):
    r2 = backend.r2
    for key in ("a", "b", "c"):
        await r2.put(key, key)
    await r2.delete(["a", "c", "missing"])
    assert [o.key for o in (await r2.list())["objects"]] == ["b"]


async def test_list_prefix(backend):
    r2 = backend.r2
    for key in ("logs/2", "logs/1", "logs/10", "logsx", "other/1"):
        await r2.put(key, key)
    res = await r2.list(prefix="logs/")
    assert [o.key for o in res["objects"]] == ["logs/1", "logs/10", "logs/2"]
    assert [o.size for o in res["objects"]] == [6, 7, 6]
    assert res["truncated"] is False
    assert "cursor" not in res
    assert res["delimitedPrefixes"] == []


async def test_list_include(backend):
    """Objects in a listing carry httpMetadata/customMetadata only when `include` asks."""
    r2 = backend.r2
    await r2.put("m", "x", httpMetadata={"contentType": "text/csv"}, customMetadata={"k": "v"})
    (plain,) = (await r2.list())["objects"]
    assert plain.customMetadata == {} and plain.httpMetadata == {}
    (full,) = (await r2.list(include=["httpMetadata", "customMetadata"]))["objects"]
    assert full.customMetadata == {"k": "v"}
    assert full.httpMetadata == {"contentType": "text/csv"}
    (custom_only,) = (await r2.list(include=["customMetadata"]))["objects"]
    assert custom_only.customMetadata == {"k": "v"} and custom_only.httpMetadata == {}


async def test_list_delimiter(backend):
    r2 = backend.r2
    for key in ("a.txt", "d/1", "d/2", "d/sub/3", "d/sub/4", "d/tub/5", "e/1", "f"):
        await r2.put(key, key)
    top = await r2.list(delimiter="/")
    assert [o.key for o in top["objects"]] == ["a.txt", "f"]
    assert top["delimitedPrefixes"] == ["d/", "e/"]
    assert top["truncated"] is False
    inside = await r2.list(prefix="d/", delimiter="/")
    assert [o.key for o in inside["objects"]] == ["d/1", "d/2"]
    assert inside["delimitedPrefixes"] == ["d/sub/", "d/tub/"]


async def test_list_cursor_paging(backend):
    r2 = backend.r2
    keys = [f"k{i:02d}" for i in range(7)]
    for key in reversed(keys):
        await r2.put(key, key)
    seen, cursor, pages = [], None, 0
    while True:
        opts = {"limit": 3}
        if cursor:
            opts["cursor"] = cursor
        res = await r2.list(**opts)
        pages += 1
        seen += [o.key for o in res["objects"]]
        if not res["truncated"]:
            assert "cursor" not in res
            break
        assert len(res["objects"]) == 3
        cursor = res["cursor"]
    assert seen == keys
    assert pages == 3


async def test_list_delimiter_paging_counts_a_prefix_once(backend):
    """With a delimiter, a folded prefix counts as one entry towards `limit`, and the
    next page resumes after every key under it."""
    r2 = backend.r2
    for key in ("a.txt", "d/1", "d/2", "d/sub/3", "e/1", "f", "g"):
        await r2.put(key, key)
    pages, cursor = [], None
    while True:
        opts = {"limit": 2, "delimiter": "/"}
        if cursor:
            opts["cursor"] = cursor
        res = await r2.list(**opts)
        pages.append(([o.key for o in res["objects"]], res["delimitedPrefixes"], res["truncated"]))
        if not res["truncated"]:
            break
        cursor = res["cursor"]
    assert pages == [
        (["a.txt"], ["d/"], True),
        (["f"], ["e/"], True),
        (["g"], [], False),
    ]


async def test_list_limit_bounds(backend):
    r2 = backend.r2
    for limit in (0, 1001):
        with pytest.raises(Exception) as err:
            await r2.list(limit=limit)
        assert str(err.value) == "list: MaxKeys params must be positive integer <= 1000. (10022)"


# -- multipart -----------------------------------------------------------------------


def _part(n: int, size: int) -> bytes:
    return bytes([n]) * size


async def test_multipart_upload_completes(backend):
    r2 = backend.r2
    upload = await r2.createMultipartUpload("big.bin", customMetadata={"kind": "export"})
    assert upload.key == "big.bin" and upload.uploadId
    chunks = [_part(1, PART), _part(2, PART), _part(3, 1234)]
    parts = []
    for i, chunk in enumerate(chunks, start=1):
        part = await upload.uploadPart(i, chunk)
        assert part["partNumber"] == i and part["etag"]
        parts.append(part)
    assert await r2.head("big.bin") is None  # nothing visible before complete
    obj = await upload.complete(parts)
    body = b"".join(chunks)
    assert obj.key == "big.bin"
    assert obj.size == len(body)
    md5s = b"".join(hashlib.md5(c).digest() for c in chunks)
    assert obj.etag == f"{hashlib.md5(md5s).hexdigest()}-3"
    got = await r2.get("big.bin")
    assert got.size == len(body)
    assert got.customMetadata == {"kind": "export"}
    assert await got.arrayBuffer() == body


async def test_multipart_resume_by_upload_id(backend):
    r2 = backend.r2
    upload = await r2.createMultipartUpload("resumed.bin")
    p1 = await upload.uploadPart(1, _part(7, PART))
    again = r2.resumeMultipartUpload("resumed.bin", upload.uploadId)
    p2 = await again.uploadPart(2, b"tail")
    obj = await again.complete([p1, p2])
    assert obj.size == PART + 4


async def test_multipart_small_non_final_part_refused(backend):
    r2 = backend.r2
    upload = await r2.createMultipartUpload("small.bin")
    p1 = await upload.uploadPart(1, _part(1, 1024))  # < 5 MiB and not last
    p2 = await upload.uploadPart(2, _part(2, 10))
    with pytest.raises(Exception) as err:
        await upload.complete([p1, p2])
    assert "smaller than the minimum allowed object size" in str(err.value)
    assert str(err.value) == (
        "completeMultipartUpload: Your proposed upload is smaller than the minimum allowed object size. (10011)"
    )
    assert await r2.head("small.bin") is None


async def test_multipart_single_small_part_is_fine(backend):
    r2 = backend.r2
    upload = await r2.createMultipartUpload("one.bin")
    p1 = await upload.uploadPart(1, b"only part")
    obj = await upload.complete([p1])
    assert obj.size == 9
    assert await (await r2.get("one.bin")).text() == "only part"


async def test_multipart_last_part_larger_than_others_refused(backend):
    r2 = backend.r2
    upload = await r2.createMultipartUpload("uneven.bin")
    p1 = await upload.uploadPart(1, _part(1, PART))
    p2 = await upload.uploadPart(2, _part(2, PART + 1))
    with pytest.raises(Exception) as err:
        await upload.complete([p1, p2])
    assert str(err.value) == "completeMultipartUpload: There was a problem with the multipart upload. (10048)"


async def test_multipart_wrong_etag_refused(backend):
    r2 = backend.r2
    upload = await r2.createMultipartUpload("etag.bin")
    p1 = await upload.uploadPart(1, b"x")
    with pytest.raises(Exception) as err:
        await upload.complete([{"partNumber": 1, "etag": "0" * 32 if p1["etag"] != "0" * 32 else "1" * 32}])
    assert str(err.value) == (
        "completeMultipartUpload: One or more of the specified parts could not be found. (10025)"
    )


async def test_multipart_abort(backend):
    r2 = backend.r2
    upload = await r2.createMultipartUpload("aborted.bin")
    p1 = await upload.uploadPart(1, b"x")
    await upload.abort()
    with pytest.raises(Exception) as err:
        await upload.uploadPart(2, b"y")
    assert str(err.value) == "uploadPart: The specified multipart upload does not exist. (10024)"
    with pytest.raises(Exception) as err:
        await upload.complete([p1])
    assert str(err.value) == "completeMultipartUpload: The specified multipart upload does not exist. (10024)"
    assert await r2.head("aborted.bin") is None


async def test_ranged_get(backend):
    r2 = backend.r2
    await r2.put("r", b"0123456789")
    assert await (await r2.get("r", range={"offset": 2, "length": 3})).arrayBuffer() == b"234"
    assert await (await r2.get("r", range={"offset": 7})).arrayBuffer() == b"789"
    assert await (await r2.get("r", range={"suffix": 2})).arrayBuffer() == b"89"


async def test_list_start_after(backend):
    r2 = backend.r2
    for key in ("a", "b", "c", "d"):
        await r2.put(key, key)
    assert [o.key for o in (await r2.list(startAfter="b"))["objects"]] == ["c", "d"]


async def test_storage_class(backend):
    """DIFFERENCE (documented): R2 reports storageClass 'Standard' for objects in the
    default class, as the local binding does; miniflare leaves it empty."""
    obj = await backend.r2.put("sc", b"x")
    assert obj.storageClass == ("" if backend.name == "miniflare" else "Standard")
