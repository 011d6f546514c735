"""The relay on the real database and broker: published iff committed."""

from __future__ import annotations

import asyncio
import json
import uuid

import aio_pika
import pytest
from sqlalchemy import select

from devicebulk_common import contracts as c
from devicebulk_common.lifecycle import emit_completed
from devicebulk_common.messaging.publisher import Publisher, open_confirm_channel
from devicebulk_common.messaging.topology import declare_topology
from devicebulk_common.models import BulkChange, DeviceChange
from devicebulk_common.outbox.relay import Relay


@pytest.fixture
async def amqp(private_amqp_url):
    connection = await aio_pika.connect_robust(private_amqp_url)
    channel = await open_confirm_channel(connection)
    await declare_topology(channel)
    yield connection, channel
    await connection.close()


async def _drain_queue(channel, name: str) -> list[dict]:
    queue = await channel.declare_queue(name, passive=True)
    bodies = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        bodies.append(json.loads(message.body))
    return bodies


async def _bulk(sessionmaker, factory, n: int, *, commit: bool) -> uuid.UUID:
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id = uuid.uuid4()
    async with sessionmaker() as s:
        async with s.begin():
            s.add(
                BulkChange(
                    id=bulk_id,
                    tenant_id=tenant.id,
                    service_provider_id=provider.id,
                    change_type=3,
                    request={},
                    device_count=n,
                    remaining_count=n,
                )
            )
            await s.flush()
            s.add_all(
                DeviceChange(
                    bulk_change_id=bulk_id, iccid=f"8914{i:016d}", params={"op": "suspend"}
                )
                for i in range(n)
            )
            await s.flush()
            if not commit:
                await s.rollback()
    return bulk_id


async def test_relay_publishes_exactly_the_committed_rows(sessionmaker, factory, amqp):
    _connection, channel = amqp
    relay = Relay(sessionmaker, Publisher(channel), batch_size=10)
    await relay.drain()  # what other tests of this database left queued
    await _drain_queue(channel, c.QUEUE_DEVICE_CHANGES)
    committed = await _bulk(sessionmaker, factory, 25, commit=True)
    rolled_back = await _bulk(sessionmaker, factory, 7, commit=False)
    assert await relay.drain() == 25
    assert await relay.drain() == 0  # nothing twice
    await asyncio.sleep(0.2)
    # Only this test's two bulk changes: the first drain's backlog (other tests' rows in the
    # shared database) may still be reaching the queue when it was emptied above.
    ours = {str(committed), str(rolled_back)}
    bodies = [
        b
        for b in await _drain_queue(channel, c.QUEUE_DEVICE_CHANGES)
        if b["bulk_change_id"] in ours
    ]
    async with sessionmaker() as s:
        rows = (
            await s.scalars(select(DeviceChange).where(DeviceChange.bulk_change_id == committed))
        ).all()
        bulk = await s.get(BulkChange, committed)
    assert sorted(b["device_change_id"] for b in bodies) == sorted(r.id for r in rows)
    assert {b["bulk_change_id"] for b in bodies} == {str(committed)}
    assert all(b["v"] == 1 for b in bodies)
    assert all(r.published_at is not None for r in rows)
    assert bulk.status == "PROCESSING"


async def test_a_failed_publish_leaves_the_rows_for_the_next_drain(sessionmaker, factory, amqp):
    _connection, channel = amqp
    await Relay(sessionmaker, Publisher(channel)).drain()
    await _drain_queue(channel, c.QUEUE_DEVICE_CHANGES)
    bulk_id = await _bulk(sessionmaker, factory, 3, commit=True)

    class Broken(Publisher):
        async def publish_many(self, items):
            raise aio_pika.exceptions.AMQPConnectionError("broker went away")

    with pytest.raises(aio_pika.exceptions.AMQPConnectionError):
        await Relay(sessionmaker, Broken(channel)).drain()
    async with sessionmaker() as s:
        rows = (
            await s.scalars(select(DeviceChange).where(DeviceChange.bulk_change_id == bulk_id))
        ).all()
    assert all(r.published_at is None for r in rows)
    assert await Relay(sessionmaker, Publisher(channel)).drain() == 3
    assert len(await _drain_queue(channel, c.QUEUE_DEVICE_CHANGES)) == 3


async def test_pipelined_batches_stop_at_the_first_failed_publish(sessionmaker, factory, amqp):
    """Batches are published while earlier ones await their confirms; a failure leaves its
    batch and every later one unpublished, and the next drain publishes exactly those."""
    _connection, channel = amqp
    await Relay(sessionmaker, Publisher(channel)).drain()
    await _drain_queue(channel, c.QUEUE_DEVICE_CHANGES)
    bulk_id = await _bulk(sessionmaker, factory, 35, commit=True)

    class FailsSecondBatch(Publisher):
        batches = 0

        async def publish_many(self, items):
            FailsSecondBatch.batches += 1
            if FailsSecondBatch.batches == 2:
                await asyncio.sleep(0.05)
                raise aio_pika.exceptions.AMQPConnectionError("broker went away")
            await super().publish_many(items)

    relay = Relay(sessionmaker, FailsSecondBatch(channel), batch_size=10, depth=3)
    with pytest.raises(aio_pika.exceptions.AMQPConnectionError):
        await relay.drain()
    async with sessionmaker() as s:
        rows = (
            await s.scalars(
                select(DeviceChange)
                .where(DeviceChange.bulk_change_id == bulk_id)
                .order_by(DeviceChange.id)
            )
        ).all()
    assert [r.published_at is not None for r in rows] == [True] * 10 + [False] * 25
    assert await Relay(sessionmaker, Publisher(channel), batch_size=10).drain() == 25
    await asyncio.sleep(0.2)
    bodies = await _drain_queue(channel, c.QUEUE_DEVICE_CHANGES)
    # The first batch once; batches published before the failure was seen may come again
    # (consumers are idempotent), but every device change is there.
    assert {b["device_change_id"] for b in bodies} == {r.id for r in rows}


async def test_outbox_events_are_published_to_the_notifier_queue(sessionmaker, factory, amqp):
    _connection, channel = amqp
    await Relay(sessionmaker, Publisher(channel)).drain()
    await _drain_queue(channel, c.QUEUE_NOTIFIER)
    bulk_id = await _bulk(sessionmaker, factory, 0, commit=True)
    async with sessionmaker() as s, s.begin():
        emit_completed(s, bulk_id, c.BulkChangeStatus.PROCESSED)
    await Relay(sessionmaker, Publisher(channel)).drain()
    await asyncio.sleep(0.2)
    events = await _drain_queue(channel, c.QUEUE_NOTIFIER)
    assert [e["bulk_change_id"] for e in events] == [str(bulk_id)]
    assert c.BulkChangeCompleted.model_validate(events[0]).status is c.BulkChangeStatus.PROCESSED
