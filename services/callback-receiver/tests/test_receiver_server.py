"""The receiver as `devicebulk-callback-receiver` serves it (main.build), on free ports: probes
and metrics only on the internal port, slow-loris clients cut off on the callback port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from callback_helpers import activation_callback

from devicebulk_callbacks.main import Servers, build
from devicebulk_callbacks.settings import CallbackSettings

TRICKLE_S = 0.3  # every byte well inside the keep-alive timeout
TRICKLES = 40  # the loop's bound; the deadlines are 1 s


@pytest.fixture
async def servers(database_url: str, credentials_key: str) -> AsyncIterator[Servers]:
    built = build(
        CallbackSettings(
            database_url=database_url,
            callbacks_port=0,
            callbacks_internal_port=0,
            callbacks_provider_cache_s=0,
            callbacks_header_timeout_s=1.0,
            callbacks_body_timeout_s=1.0,
            callbacks_keep_alive_s=30,
        )
    )
    built.listener.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(built.serve())
    for _ in range(250):
        if built.listener.started:
            break
        await asyncio.sleep(0.02)
    assert built.listener.started
    yield built
    built.listener.should_exit = True
    await task


def _port(servers: Servers) -> int:
    return int(servers.listener.servers[0].sockets[0].getsockname()[1])


async def test_probes_and_metrics_are_on_the_internal_port_only(servers: Servers) -> None:
    async with httpx.AsyncClient() as client:
        internal = f"http://127.0.0.1:{servers.internal.port}"
        for _ in range(100):
            if (await client.get(f"{internal}/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.05)
        assert (await client.get(f"{internal}/readyz")).status_code == 200
        assert (await client.get(f"{internal}/healthz")).status_code == 200
        assert b"callbacks_received_total" in (await client.get(f"{internal}/metrics")).content
        public = f"http://127.0.0.1:{_port(servers)}"
        for path in ("/healthz", "/readyz", "/metrics", "/docs"):
            assert (await client.get(public + path)).status_code == 404, path


async def _trickle(port: int, head: bytes, drip: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.create_task(reader.read())  # what comes until the server closes
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


async def test_a_slow_loris_head_is_cut_off(servers: Servers, scenario) -> None:
    head = f"POST {scenario.url} HTTP/1.1\r\n".encode()
    answer = await _trickle(_port(servers), head, b"X-Slow: abcdefgh\r\n")
    assert answer.startswith(b"HTTP/1.1 408")


async def test_a_slow_loris_body_is_cut_off(servers: Servers, scenario) -> None:
    body = json.dumps(activation_callback(scenario.changes[0].iccid, "req-slow")).encode()
    head = (
        f"POST {scenario.url} HTTP/1.1\r\nHost: r\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    answer = await _trickle(_port(servers), head, body)
    assert answer.startswith(b"HTTP/1.1 408")
    assert answer.split(b"\r\n\r\n", 1)[1].startswith(b'{"type"')
