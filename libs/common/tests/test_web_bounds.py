"""The kit's bounds on real uvicorn servers, driven over raw sockets: a slow-loris head or body
is cut off, a body past the cap is refused while it streams, declared or chunked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import create_async_engine

from devicebulk_common.web import BodyGuard, health_router, server_config

TRICKLE_S = 0.3  # well inside the keep-alive timeout: every byte would reset an idle timer
TRICKLES = 40  # the loop's bound (12 s); the deadlines below are 1 s


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    return app


@pytest.fixture
async def port() -> AsyncIterator[int]:
    config = server_config(
        BodyGuard(_app(), max_bytes=1024, timeout_s=1.0),
        host="127.0.0.1",
        port=0,
        max_connections=50,
        keep_alive_s=30,
        header_timeout_s=1.0,
        max_header_bytes=4096,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    await task


async def _trickle(port: int, head: bytes, drip: bytes) -> bytes:
    """Send ``head`` at once, then ``drip`` a byte at a time; what the server answered once it
    closed the connection (b"" if it never did within the loop)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.create_task(reader.read())  # until the server closes
    try:
        writer.write(head)
        for i in range(TRICKLES):
            if answer.done():
                break
            try:
                writer.write(drip[i % len(drip) : i % len(drip) + 1])
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(TRICKLE_S)
        await asyncio.wait([answer], timeout=2.0)
        return answer.result() if answer.done() else b""
    finally:
        answer.cancel()
        writer.close()


async def test_a_head_trickled_a_byte_at_a_time_is_cut_off(port: int) -> None:
    answer = await _trickle(port, b"POST /echo HTTP/1.1\r\n", b"X-Slow: abcdefghij\r\n")
    assert answer.startswith(b"HTTP/1.1 408")


async def test_a_body_trickled_a_byte_at_a_time_is_cut_off(port: int) -> None:
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n"
    answer = await _trickle(port, head, b"a")
    assert answer.startswith(b"HTTP/1.1 408")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["status"] == 408


async def test_a_head_larger_than_the_cap_is_refused(port: int) -> None:
    head = b"POST /echo HTTP/1.1\r\nX-Big: " + b"a" * 8000 + b"\r\n"
    answer = await _trickle(port, head, b"b")
    assert answer.startswith(b"HTTP/1.1 431")


async def test_a_body_past_the_cap_is_413_declared_or_chunked(port: int) -> None:
    seen: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(100):  # 100 KiB unless the server stops reading
            seen.append(i)
            yield b"x" * 1024

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        declared = await client.post("/echo", content=b"x" * 5000)
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"
        try:
            chunked = await client.post("/echo", content=chunks())
            assert chunked.status_code == 413
        except httpx.TransportError:  # cut off while still sending: refused as well
            pass
        assert len(seen) < 100
        small = await client.post("/echo", content=b"x" * 1000)
        assert small.status_code == 200 and small.json() == {"received": 1000}


async def test_readyz_never_shows_the_database_error() -> None:
    app = FastAPI()
    app.include_router(health_router())
    app.state.engine = create_async_engine(
        "postgresql+asyncpg://secret_user:pw@127.0.0.1:1/secret_db"
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app"
    ) as client:
        answer = await client.get("/readyz")
    await app.state.engine.dispose()
    assert answer.status_code == 503
    assert answer.json() == {"status": "unready", "database": "unavailable"}
