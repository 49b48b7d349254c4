"""The local R2 binding assembles a multipart object part by part (not joined in
memory), and a ranged get reads only the range."""

import hashlib
import tracemalloc

from devhost.bindings.r2 import MIN_PART_BYTES, LocalR2Bucket


async def test_completing_a_multipart_upload_holds_one_part_at_a_time(tmp_path):
    bucket = LocalR2Bucket("R2", tmp_path / "r2.sqlite")
    parts = [bytes([n]) * MIN_PART_BYTES for n in range(1, 5)] + [b"tail"]
    upload = await bucket.createMultipartUpload("big")
    uploaded = [await upload.uploadPart(i, p) for i, p in enumerate(parts, 1)]
    tracemalloc.start()
    obj = await upload.complete(uploaded)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    whole = b"".join(parts)
    assert obj.size == len(whole) == 4 * MIN_PART_BYTES + 4
    assert peak < 2 * MIN_PART_BYTES  # joining would need the whole 20 MiB object at least
    got = await (await bucket.get("big")).arrayBuffer()
    assert hashlib.sha256(got).digest() == hashlib.sha256(whole).digest()
    ranged = await (await bucket.get("big", range={"offset": MIN_PART_BYTES - 2, "length": 4})).arrayBuffer()
    assert ranged == b"\x01\x01\x02\x02"
    bucket.close()
