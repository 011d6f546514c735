"""The relay as it runs (``serve``): /healthz, /readyz and /metrics on its health port, like
the worker's, so Kubernetes can probe it and Prometheus read it."""

from __future__ import annotations

import asyncio
import socket

import httpx

from devicebulk_common.outbox.relay import RelaySettings, serve


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(f"http://127.0.0.1:{port}{path}")


async def _until_ready(port: int, task: asyncio.Task, limit_s: float = 60) -> None:
    for _ in range(int(limit_s / 0.1)):
        assert not task.done(), f"the relay exited: {task.exception()!r}"
        try:
            if (await _get(port, "/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("the relay never became ready")


async def test_relay_serves_probes_and_metrics(database_url, amqp_url, monkeypatch):
    port = _free_port()
    settings = RelaySettings(
        database_url=database_url, rabbitmq_url=amqp_url, relay_health_port=port
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        await _until_ready(port, task)
        assert (await _get(port, "/healthz")).status_code == 200
        metrics = await _get(port, "/metrics")
        assert metrics.status_code == 200
        assert "relay_published_messages_total" in metrics.text
        assert "relay_drain_failures_total" in metrics.text
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    # Stopped: nothing listens any more.
    try:
        await _get(port, "/healthz")
        raise AssertionError("the health server outlived the relay")
    except httpx.TransportError:
        pass


async def test_relay_is_alive_but_not_ready_while_the_broker_is_away(database_url):
    port, dead = _free_port(), _free_port()
    settings = RelaySettings(
        database_url=database_url,
        rabbitmq_url=f"amqp://guest:guest@127.0.0.1:{dead}/",
        relay_health_port=port,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        for _ in range(100):
            try:
                alive = await _get(port, "/healthz")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        assert alive.status_code == 200
        assert (await _get(port, "/readyz")).status_code == 503
        assert not task.done()  # it keeps trying to connect, it does not exit
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
