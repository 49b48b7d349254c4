"""One app served by uvicorn in its own process for the health group:
`python -m bench.serve {health|trivial} [--state DIR]`. Binds a free 127.0.0.1 port,
prints it on stdout once the server has started (lifespan done), serves until SIGTERM.

`health` is the local host (devhost.host.LocalHost on a scratch state root, migrated);
`trivial` is a bare ASGI app answering 200. Both get the same uvicorn settings (h11,
asyncio loop, no access log), so the only difference between them is the app."""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys

from bench import ROOT  # noqa: F401  (puts src/ and the repo root on sys.path)

TRIVIAL_BODY = b'{"status":"ok"}'


async def trivial_app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(TRIVIAL_BODY)).encode())]})
    await send({"type": "http.response.body", "body": TRIVIAL_BODY})


def build_app(kind: str, state: str | None):
    if kind == "trivial":
        return trivial_app
    from pathlib import Path

    from bench.fixture import make_host

    if not state:
        raise SystemExit("--state is required for the health app")
    return make_host(Path(state))


async def serve(app) -> None:
    import uvicorn

    # proto=IPPROTO_TCP as getaddrinfo gives it (what uvicorn's own host/port bind gets):
    # asyncio sets TCP_NODELAY only on such sockets; without it every response stalls
    # ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    config = uvicorn.Config(app, lifespan="on", http="h11", loop="asyncio", log_level="warning",
                            access_log=False, server_header=False, date_header=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
            raise SystemExit("server stopped during startup")
        await asyncio.sleep(0.01)
    print(sock.getsockname()[1], flush=True)
    await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("app", choices=["health", "trivial"])
    parser.add_argument("--state")
    args = parser.parse_args(argv)
    asyncio.run(serve(build_app(args.app, args.state)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
