"""An ASGI app served for a test the way the product serves it: uvicorn in the test's own event
loop on a free loopback port, real sockets and real HTTP, stopped when the block ends."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import uvicorn

from journeys.devstack import ApiServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def serving(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Serve `app` until the block ends; yields its base URL. Fails at once if uvicorn cannot
    start (a port taken, a lifespan that raises) instead of letting requests time out."""
    port = port or free_port()
    server = ApiServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(300):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def clients_from(app: Any, *hosts: str) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One in-process client of `app` per caller address in `hosts`: the API answers each as
    a call from that address (loopback or not decides open access without keys)."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app, client=(host, 40000)),
                    base_url="http://test",
                )
            )
            for host in hosts
        ]
