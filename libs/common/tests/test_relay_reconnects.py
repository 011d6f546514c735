"""The relay with no supervisor: connections lost mid-drain, and every row still published."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid

import aio_pika
import asyncpg
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from devicebulk_common import contracts as c
from devicebulk_common.db.dsn import asyncpg_dsn
from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.messaging.publisher import Publisher, open_confirm_channel
from devicebulk_common.messaging.topology import declare_topology
from devicebulk_common.models import BulkChange, DeviceChange
from devicebulk_common.outbox.relay import Relay

N = 1_500


async def _published(sessionmaker) -> int:
    async with sessionmaker() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(DeviceChange)
                .where(DeviceChange.published_at.is_not(None))
            )
        )


async def _until(predicate, relay_task: asyncio.Task, limit_s: float = 120.0) -> None:
    """Wait until ``predicate()``; fail at once if the relay exited."""
    for _ in range(int(limit_s / 0.05)):
        assert not relay_task.done(), f"the relay exited: {relay_task.exception()!r}"
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never happened")


async def _terminate_backends(url: str) -> None:
    admin = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()


def _close_amqp_connections(vhost: str) -> None:
    subprocess.run(
        ["rabbitmqctl", "-q", "close_all_connections", "-p", vhost, "test closes them"],
        check=True,
        capture_output=True,
        timeout=60,
    )


async def test_relay_publishes_every_row_through_lost_connections(
    private_database_url, private_amqp_url, factory, credentials_key
):
    checks = create_async_engine(private_database_url, poolclass=NullPool)
    check_sessions = create_sessionmaker(checks)
    seed = type(factory)(check_sessions, credentials_key)
    tenant = await seed.tenant()
    provider = await seed.provider()
    bulk_id = uuid.uuid4()
    async with check_sessions() as s, s.begin():
        s.add(
            BulkChange(
                id=bulk_id,
                tenant_id=tenant.id,
                service_provider_id=provider.id,
                change_type=3,
                request={},
                device_count=N,
                remaining_count=N,
            )
        )
        await s.flush()
        s.add_all(
            DeviceChange(bulk_change_id=bulk_id, iccid=f"8914{i:016d}", params={"op": "suspend"})
            for i in range(N)
        )

    relay_engine = create_engine(private_database_url, pool_size=3, application_name="relay")
    connection = await aio_pika.connect_robust(private_amqp_url)

    async def reopen() -> Publisher:
        channel = await open_confirm_channel(connection)
        await declare_topology(channel)
        return Publisher(channel)

    relay = Relay(create_sessionmaker(relay_engine), await reopen(), batch_size=10, depth=2)
    stop = asyncio.Event()
    task = asyncio.create_task(
        relay.run(private_database_url, stop, poll_interval_s=0.2, reopen=reopen, max_backoff_s=0.5)
    )
    vhost = private_amqp_url.rsplit("/", 1)[1]
    try:
        # Mid-drain: PostgreSQL drops every backend (the pool's and the LISTEN one) ...
        await _until(lambda: _at_least(check_sessions, 100), task)
        await _terminate_backends(private_database_url)
        # ... then RabbitMQ closes every connection of the vhost, twice.
        for at in (400, 800):
            await _until(lambda at=at: _at_least(check_sessions, at), task)
            _close_amqp_connections(vhost)
        await _until(lambda: _at_least(check_sessions, N), task)
        # Rows written after the outage are published too (the relay still listens).
        async with check_sessions() as s, s.begin():
            s.add(DeviceChange(bulk_change_id=bulk_id, iccid="8914" + "9" * 16, params={}))
        await _until(lambda: _at_least(check_sessions, N + 1), task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await connection.close()
        await relay_engine.dispose()

    reader = await aio_pika.connect_robust(private_amqp_url)
    try:
        channel = await reader.channel()
        queue = await channel.declare_queue(c.QUEUE_DEVICE_CHANGES, passive=True)
        seen: set[int] = set()
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            seen.add(json.loads(message.body)["device_change_id"])
    finally:
        await reader.close()
    async with check_sessions() as s:
        ids = set((await s.scalars(select(DeviceChange.id))).all())
    await checks.dispose()
    assert seen == ids  # every committed row's message, whatever was lost on the way


async def _at_least(sessionmaker, n: int) -> bool:
    return await _published(sessionmaker) >= n
