"""Probes of the JavaScript surface the Workers SDK uses, written once and run twice:
under real Pyodide in Node (real `js`: Node's Headers, URL, Request, Response,
TransformStream; Pyodide's FFI) and under CPython over the local runtime
(devhost/runtime). tests/runtime/test_js_surface.py compares the two outputs."""

from __future__ import annotations

import json
import sys


def _r(value):
    """JSON-able, telling apart what the FFI tells apart."""
    from pyodide.ffi import JsProxy, jsnull

    if value is jsnull:
        return "<null>"
    if value is None:
        return "<undefined>"
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, (list, tuple)):
        return [_r(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _r(v) for k, v in value.items()}
    if isinstance(value, memoryview):
        return {"memoryview": value.tobytes().hex()}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, JsProxy):
        return {"proxy": value.constructor.name}
    return {"python": type(value).__name__}


async def probe() -> dict:
    import js
    from pyodide.ffi import JsException, create_proxy, to_js

    out: dict = {}

    def attempt(name, fn):
        try:
            out[name] = _r(fn())
        except JsException as exc:
            out[name] = {"JsException": exc.name}
        except Exception as exc:  # noqa: BLE001
            out[name] = {"raises": type(exc).__name__}

    # Conversions (Pyodide FFI)
    attempt("to_js dict default", lambda: to_js({"a": 1}).constructor.name)
    attempt("to_js dict fromEntries", lambda: to_js({"a": [1, None], "b": {"c": 2.0}},
                                                   dict_converter=js.Object.fromEntries).to_py())
    attempt("to_js tuple", lambda: to_js((1, "x")).to_py())
    attempt("to_js bytes", lambda: to_js(b"\x00\xff").constructor.name)
    attempt("to_py bytes", lambda: to_js(b"\x00\xff").to_py())
    attempt("to_js set", lambda: sorted(to_js({3, 1}).to_py()))
    attempt("integral float", lambda: to_js([3.0, 2.5, -0.0]).to_py())
    attempt("big int", lambda: to_js([2**60]).to_py())
    attempt("nested null", lambda: js.Object.fromEntries(to_js([["a", None]])).to_py())
    attempt("proxy buffer", lambda: create_proxy(b"abc").getBuffer().data.to_bytes())
    attempt("slice", lambda: create_proxy(b"abc").getBuffer().data.slice().to_bytes())
    attempt("kwargs object", lambda: js.Object.fromEntries(to_js([["k", 1]])).k)

    # Headers
    h = js.Headers.new([["Set-Cookie", "a=1"], ["X-A", "1"], ["x-a", "2"], ["set-cookie", "b=2"], ["B", " v "]])
    attempt("headers iteration", lambda: [list(p) for p in h])
    attempt("headers get", lambda: [h.get("x-a"), h.get("X-A"), h.get("set-cookie"), h.get("b"), h.get("none")])
    attempt("headers getSetCookie", lambda: list(h.getSetCookie()))
    attempt("headers has", lambda: [h.has("SET-COOKIE"), h.has("nope")])
    attempt("headers from pairs of tuples", lambda: [list(p) for p in js.Headers.new([("k", "v"), ("k", "w")])])
    attempt("headers bad name", lambda: js.Headers.new([["bad name", "v"]]))
    attempt("headers set", lambda: (h.set("x-a", "3"), [list(p) for p in h])[1])
    attempt("headers delete", lambda: (h.delete("set-cookie"), [list(p) for p in h])[1])

    # URL
    for u in ("https://Tool.Example.EDU:443/a%20b/c?x=1&y=%C3%A9#frag", "http://127.0.0.1:8787/", "https://t.test",
              "https://t.test/?", "http://[::1]:8080/p"):
        attempt(f"url {u}", lambda u=u: [getattr(js.URL.new(u), k) for k in
                                         ("protocol", "host", "hostname", "port", "pathname", "search", "hash",
                                          "origin", "href")])
    attempt("url invalid", lambda: js.URL.new("not a url"))

    # Response
    r = js.Response.new(create_proxy(b"hello").getBuffer().data, status=201,
                        headers=js.Headers.new([["content-type", "text/plain"]]))
    out["response"] = _r([r.status, r.ok, r.statusText, r.headers.get("content-type"), r.bodyUsed,
                          r.body.constructor.name, await r.text(), r.bodyUsed])
    s = js.Response.new("text body")
    out["string body"] = _r([s.status, s.headers.get("content-type"), await s.text()])
    n = js.Response.new(None, status=204)
    out["null body"] = _r([n.status, n.body, await n.text()])
    attempt("body on a 204", lambda: js.Response.new("x", status=204))
    attempt("body on a 304", lambda: js.Response.new("x", status=304))
    attempt("status 99", lambda: js.Response.new(None, status=99))
    attempt("status 600", lambda: js.Response.new(None, status=600))
    rd = js.Response.redirect("https://t.test/next", 303)
    out["redirect"] = _r([rd.status, rd.headers.get("location")])
    attempt("redirect 200", lambda: js.Response.redirect("https://t.test/", 200))
    used = js.Response.new("once")
    await used.text()
    try:
        await used.text()
        out["read twice"] = "read"
    except JsException as exc:
        out["read twice"] = {"JsException": exc.name}
    j = js.Response.new('{"a": [1, 2.5, null]}')
    out["json body"] = _r((await j.json()).to_py())
    b = js.Response.new(create_proxy(b"\x01\x02").getBuffer().data)
    out["arrayBuffer"] = _r([(await b.arrayBuffer()).constructor.name])

    # Request
    q = js.Request.new("https://t.test/p?q=1", method="POST", body="payload",
                       headers=js.Headers.new([["x-k", "v"]]))
    out["request"] = _r([q.method, q.url, q.headers.get("x-k"), q.headers.get("content-type"), await q.text()])
    attempt("GET with body", lambda: js.Request.new("https://t.test/", method="GET", body="x"))
    g = js.Request.new("https://t.test/")
    out["request without body"] = _r([g.method, g.body])

    # Streams: a TransformStream's readable side as a Response body.
    ts = js.TransformStream.new()
    writer = ts.writable.getWriter()
    streamed = js.Response.new(ts.readable)
    reading = streamed.text()
    await writer.write(create_proxy(b"one,").getBuffer().data.slice())
    await writer.write(create_proxy(b"two").getBuffer().data.slice())
    await writer.close()
    out["transform stream"] = _r(await reading)
    return out


async def main_json(text: str) -> str:
    try:
        return json.dumps(await probe())
    except BaseException:  # noqa: BLE001
        import traceback

        return json.dumps({"fatal": traceback.format_exc()})


if __name__ == "__main__":
    import asyncio
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from devhost.runtime import install

    install()
    with open(sys.argv[1], encoding="utf-8") as fh:
        print(asyncio.run(main_json(fh.read())))
