"""Declares the exchanges, queues and bindings of the contract (idempotent; every service
declares what it uses at start-up).

Work queues are quorum queues with a delivery limit and a dead-letter exchange, so a message
that crashes its handler again and again ends in a dead-letter queue instead of looping.
"""

from __future__ import annotations

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange
from pamqp.common import FieldTable

from devicebulk_common import contracts as c


def _work_queue(dead_routing_key: str) -> FieldTable:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": c.DELIVERY_LIMIT,
        "x-dead-letter-exchange": c.EXCHANGE_DEAD_LETTER,
        "x-dead-letter-routing-key": dead_routing_key,
    }


async def declare_exchanges(channel: AbstractChannel) -> dict[str, AbstractExchange]:
    kinds = {
        c.EXCHANGE_DEVICE_CHANGES: aio_pika.ExchangeType.DIRECT,
        c.EXCHANGE_RETRY: aio_pika.ExchangeType.DIRECT,
        c.EXCHANGE_DEAD_LETTER: aio_pika.ExchangeType.DIRECT,
        c.EXCHANGE_EVENTS: aio_pika.ExchangeType.TOPIC,
    }
    return {
        name: await channel.declare_exchange(name, kind, durable=True)
        for name, kind in kinds.items()
    }


async def declare_topology(channel: AbstractChannel) -> None:
    """Every exchange and queue of the contract, bound."""
    ex = await declare_exchanges(channel)

    dead_devices = await channel.declare_queue(
        c.QUEUE_DEAD_DEVICE_CHANGES, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead_devices.bind(ex[c.EXCHANGE_DEAD_LETTER], c.ROUTING_DEAD_DEVICE_CHANGE)
    dead_notifications = await channel.declare_queue(
        c.QUEUE_DEAD_NOTIFIER, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead_notifications.bind(ex[c.EXCHANGE_DEAD_LETTER], c.ROUTING_DEAD_NOTIFICATION)

    devices = await channel.declare_queue(
        c.QUEUE_DEVICE_CHANGES,
        durable=True,
        arguments=_work_queue(c.ROUTING_DEAD_DEVICE_CHANGE),
    )
    await devices.bind(ex[c.EXCHANGE_DEVICE_CHANGES], c.ROUTING_DEVICE_CHANGE)

    for tier in c.RETRY_TIERS:
        delay = await channel.declare_queue(
            c.retry_queue(tier),
            durable=True,
            arguments={
                "x-dead-letter-exchange": c.EXCHANGE_DEVICE_CHANGES,
                "x-dead-letter-routing-key": c.ROUTING_DEVICE_CHANGE,
            },
        )
        await delay.bind(ex[c.EXCHANGE_RETRY], tier)

    notifier = await channel.declare_queue(
        c.QUEUE_NOTIFIER, durable=True, arguments=_work_queue(c.ROUTING_DEAD_NOTIFICATION)
    )
    await notifier.bind(ex[c.EXCHANGE_EVENTS], c.ROUTING_BULK_CHANGE_COMPLETED)
