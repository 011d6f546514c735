"""The consumer base: explicit prefetch, one task per message, ack only after the handler's
effect committed, reject without requeue what can never succeed, graceful stop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from pydantic import BaseModel, ValidationError

log = structlog.get_logger(__name__)

M = TypeVar("M", bound=BaseModel)


class MalformedMessage(Exception):
    """The body can never be handled: reject it without requeue."""


class RequeueLater(Exception):
    """The message could not be handled now (e.g. the database is down): requeue it."""


Handler = Callable[[Any, AbstractIncomingMessage], Awaitable[None]]


def parse_body(model: type[M], message: AbstractIncomingMessage) -> M:
    try:
        return model.model_validate(json.loads(message.body))
    except (ValueError, ValidationError) as exc:
        raise MalformedMessage(str(exc)) from exc


class Consumer:
    """Consumes one queue with ``prefetch`` messages in flight at most."""

    def __init__(
        self,
        channel: AbstractChannel,
        queue_name: str,
        model: type[BaseModel],
        handler: Handler,
        *,
        prefetch: int,
        requeue_delay_s: float = 1.0,
    ) -> None:
        self._channel = channel
        self._queue_name = queue_name
        self._model = model
        self._handler = handler
        self._prefetch = prefetch
        self._requeue_delay_s = requeue_delay_s
        self._tasks: set[asyncio.Task[None]] = set()
        self._consumer_tag: str | None = None
        self._queue: Any = None
        self.handled = 0

    async def start(self) -> None:
        await self._channel.set_qos(prefetch_count=self._prefetch)
        self._queue = await self._channel.get_queue(self._queue_name, ensure=True)
        self._consumer_tag = await self._queue.consume(self._on_message)
        log.info("consuming", queue=self._queue_name, prefetch=self._prefetch)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.create_task(self._handle(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            body = parse_body(self._model, message)
            with structlog.contextvars.bound_contextvars(
                correlation_id=message.correlation_id, message_id=message.message_id
            ):
                await self._handler(body, message)
        except MalformedMessage as exc:
            log.error("message rejected: malformed", queue=self._queue_name, error=str(exc))
            await self._settle(message.reject(requeue=False), "reject")
        except Exception:
            log.exception("message handling failed; requeued", queue=self._queue_name)
            await asyncio.sleep(self._requeue_delay_s)
            await self._settle(message.reject(requeue=True), "requeue")
        else:
            if await self._settle(message.ack(), "ack"):
                self.handled += 1

    async def _settle(self, settling: Awaitable[None], what: str) -> bool:
        """Ack or reject; a channel closed meanwhile (the broker requeues the delivery itself,
        and the handler's effect is committed, so the copy finds it done) is logged, not
        raised into a task nobody awaits."""
        try:
            await settling
        except Exception as exc:  # aio-pika raises RuntimeError subclasses, AMQP errors, OSError
            log.warning(
                "message could not be settled; the broker will deliver it again",
                queue=self._queue_name,
                settle=what,
                error=f"{type(exc).__name__}: {exc}",
            )
            return False
        return True

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def stop(self, timeout_s: float = 30.0) -> None:
        """Stop taking messages, let those in flight finish (up to ``timeout_s``)."""
        if self._queue is not None and self._consumer_tag is not None:
            await self._queue.cancel(self._consumer_tag)
            self._consumer_tag = None
        if self._tasks:
            log.info("draining in-flight messages", count=len(self._tasks))
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
            for task in pending:
                task.cancel()
