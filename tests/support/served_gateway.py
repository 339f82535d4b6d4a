"""The gateway's app behind a real uvicorn server in the test's own event loop, on a local port taken
before the gateway is configured (its ``PUBLIC_BASE_URL`` must name it): its requests run concurrently
with the test's, as providers' callbacks reach a deployed gateway."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from entrypoints.container import Container
from entrypoints.http.app import create_app


def listening_socket() -> socket.socket:
    """A socket bound to a free port on 127.0.0.1, for ``served``."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def base_url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def served(container: Container, sock: socket.socket) -> AsyncIterator[str]:
    """Serve the container's app on ``sock`` for the duration of the block (its base URL), then stop
    the server and close the socket."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), lifespan="on", log_level="warning", access_log=False)
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                assert not serving.done(), "the gateway did not start"
                await asyncio.sleep(0.01)
        yield base_url_of(sock)
    finally:
        server.should_exit = True
        await serving
        sock.close()
