"""Declares the exchanges, queues and bindings of the contract (idempotent; every service
declares what it uses at start-up)."""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange

from devicebulk_common import contracts as c

QUORUM = {"x-queue-type": "quorum"}


async def declare_exchanges(channel: AbstractChannel) -> dict[str, AbstractExchange]:
    device = await channel.declare_exchange(
        c.EXCHANGE_DEVICE_CHANGES, aio_pika.ExchangeType.DIRECT, durable=True
    )
    events = await channel.declare_exchange(
        c.EXCHANGE_EVENTS, aio_pika.ExchangeType.TOPIC, durable=True
    )
    return {c.EXCHANGE_DEVICE_CHANGES: device, c.EXCHANGE_EVENTS: events}


async def declare_topology(channel: AbstractChannel) -> None:
    """Every exchange and queue of the contract, bound."""
    exchanges = await declare_exchanges(channel)
    device_queue = await channel.declare_queue(
        c.QUEUE_DEVICE_CHANGES, durable=True, arguments=QUORUM
    )
    await device_queue.bind(exchanges[c.EXCHANGE_DEVICE_CHANGES], c.ROUTING_DEVICE_CHANGE)
    notifier_queue = await channel.declare_queue(c.QUEUE_NOTIFIER, durable=True, arguments=QUORUM)
    await notifier_queue.bind(exchanges[c.EXCHANGE_EVENTS], c.ROUTING_BULK_CHANGE_COMPLETED)
