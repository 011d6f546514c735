"""Publishing with publisher confirms: persistent JSON, mandatory (unroutable raises)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange


@dataclass(frozen=True)
class Outgoing:
    exchange: str
    routing_key: str
    body: dict[str, Any]
    message_id: str
    correlation_id: str | None = None
    expiration_ms: int | None = None


class Publisher:
    """Publishes on one confirm-mode channel; ``publish_many`` returns when all are confirmed."""

    def __init__(self, channel: AbstractChannel) -> None:
        self._channel = channel
        self._exchanges: dict[str, AbstractExchange] = {}

    async def _exchange(self, name: str) -> AbstractExchange:
        if name not in self._exchanges:
            self._exchanges[name] = await self._channel.get_exchange(name, ensure=True)
        return self._exchanges[name]

    async def publish(self, item: Outgoing) -> None:
        exchange = await self._exchange(item.exchange)
        message = aio_pika.Message(
            body=json.dumps(item.body, default=str).encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=item.message_id,
            correlation_id=item.correlation_id,
            expiration=item.expiration_ms / 1000 if item.expiration_ms is not None else None,
        )
        await exchange.publish(message, routing_key=item.routing_key, mandatory=True)

    async def publish_many(self, items: Sequence[Outgoing]) -> None:
        for name in {i.exchange for i in items}:
            await self._exchange(name)
        await asyncio.gather(*(self.publish(i) for i in items))


async def open_confirm_channel(connection: aio_pika.abc.AbstractConnection) -> AbstractChannel:
    return await connection.channel(publisher_confirms=True, on_return_raises=True)
