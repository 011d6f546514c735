"""The broker topology on a real RabbitMQ: delay queues return messages to the work queue, and a
message that keeps failing is dead-lettered."""

from __future__ import annotations

import asyncio
import json

import aio_pika
import pytest

from devicebulk_common import contracts as c
from devicebulk_common.messaging.publisher import Outgoing, Publisher, open_confirm_channel
from devicebulk_common.messaging.topology import declare_topology


@pytest.fixture
async def channel(private_amqp_url):
    connection = await aio_pika.connect_robust(private_amqp_url)
    ch = await open_confirm_channel(connection)
    await declare_topology(ch)
    yield ch
    await connection.close()


async def _get(channel, queue_name: str, timeout_s: float = 5.0):
    queue = await channel.get_queue(queue_name)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    return None


async def _purge(channel, *names: str) -> None:
    for name in names:
        await (await channel.get_queue(name)).purge()


async def test_a_delayed_message_comes_back_to_the_device_queue(channel):
    await _purge(channel, c.QUEUE_DEVICE_CHANGES)
    body = {
        "v": 1,
        "device_change_id": 42,
        "bulk_change_id": "00000000-0000-0000-0000-000000000042",
    }
    await Publisher(channel).publish(
        Outgoing(
            exchange=c.EXCHANGE_RETRY,
            routing_key="retry.1",
            body=body,
            message_id="m-42",
            expiration_ms=300,
        )
    )
    assert await _get(channel, c.QUEUE_DEVICE_CHANGES, timeout_s=0.1) is None  # not yet
    message = await _get(channel, c.QUEUE_DEVICE_CHANGES)
    assert message is not None and json.loads(message.body) == body
    await message.ack()


async def test_a_message_that_keeps_failing_is_dead_lettered(channel):
    await _purge(channel, c.QUEUE_DEVICE_CHANGES, c.QUEUE_DEAD_DEVICE_CHANGES)
    body = {"v": 1, "device_change_id": 7, "bulk_change_id": "00000000-0000-0000-0000-000000000007"}
    await Publisher(channel).publish(
        Outgoing(
            exchange=c.EXCHANGE_DEVICE_CHANGES,
            routing_key=c.ROUTING_DEVICE_CHANGE,
            body=body,
            message_id="m-7",
        )
    )
    deliveries = 0
    while (message := await _get(channel, c.QUEUE_DEVICE_CHANGES, timeout_s=1.0)) is not None:
        deliveries += 1
        await message.reject(requeue=True)  # the handler crashed on it
        assert deliveries <= c.DELIVERY_LIMIT + 1
    dead = await _get(channel, c.QUEUE_DEAD_DEVICE_CHANGES)
    assert dead is not None and json.loads(dead.body) == body
    assert deliveries == c.DELIVERY_LIMIT + 1
    await dead.ack()


async def test_an_unroutable_publish_raises(channel):
    with pytest.raises(aio_pika.exceptions.DeliveryError):
        await Publisher(channel).publish(
            Outgoing(exchange=c.EXCHANGE_RETRY, routing_key="no-such-tier", body={}, message_id="x")
        )
