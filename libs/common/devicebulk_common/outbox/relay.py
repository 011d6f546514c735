"""The relay: publishes what committed, with publisher confirms (published iff committed).

Two sources are drained: device changes that are ``Queued`` and not yet published (the intake's
rows are their own outbox, so a 100,000-device change writes each row once), and
``outbox_message`` rows (events such as ``bulk_change.completed``). Device changes are drained
by one relay at a time (an advisory lock; their rows stay unlocked while their messages are
confirmed, so workers start them at once), outbox rows are claimed with ``FOR UPDATE SKIP
LOCKED``, so several relays can run; rows are marked published in the same transaction, after
the broker confirmed them. A crash between confirm and commit publishes them
again: consumers are idempotent. Writers ``NOTIFY devicebulk_outbox`` so the relay wakes at once;
it also polls, so a lost notification only delays.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import uuid
from collections import deque
from typing import Any

import aio_pika
import asyncpg
import structlog
import uvloop
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common import contracts as c
from devicebulk_common.db.dsn import asyncpg_dsn
from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.logging import configure_logging
from devicebulk_common.messaging.publisher import Outgoing, Publisher, open_confirm_channel
from devicebulk_common.messaging.topology import declare_topology
from devicebulk_common.settings import CommonSettings

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "devicebulk_outbox"

# Relays take turns draining device changes (a transaction-scoped advisory lock) instead of
# locking the rows they publish: a worker that receives a message while its batch is still being
# confirmed must not wait for the whole batch (it locks the row to start it).
_TAKE_TURN = text("SELECT pg_advisory_xact_lock(hashtext('devicebulk-relay:device_change'))")
_CLAIM_DEVICE_CHANGES = text(
    """
    SELECT id, bulk_change_id FROM device_change
    WHERE published_at IS NULL AND status = 'Queued' AND id > :after
    ORDER BY id LIMIT :limit
    """
)
# Rows locked in id order, as the worker locks them (no deadlock with a batch being started).
_MARK_DEVICE_CHANGES = text(
    """
    UPDATE device_change SET published_at = now()
    WHERE id IN (SELECT id FROM device_change WHERE id = ANY(:ids) ORDER BY id FOR UPDATE)
    """
)
_START_BULK_CHANGES = text(
    """
    UPDATE bulk_change SET status = 'PROCESSING'
    WHERE id = ANY(:ids) AND status = 'NEW'
    """
)
_CLAIM_OUTBOX = text(
    """
    SELECT id, exchange, routing_key, body, expiration_ms FROM outbox_message
    WHERE published_at IS NULL ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
    """
)
_MARK_OUTBOX = text("UPDATE outbox_message SET published_at = now() WHERE id = ANY(:ids)")


def _device_messages(rows: list[Any]) -> list[Outgoing]:
    return [
        Outgoing(
            exchange=c.EXCHANGE_DEVICE_CHANGES,
            routing_key=c.ROUTING_DEVICE_CHANGE,
            body=c.DeviceChangeMessage(
                device_change_id=row.id,
                bulk_change_id=row.bulk_change_id,
                correlation_id=str(row.bulk_change_id),
            ).model_dump(mode="json"),
            message_id=f"device_change:{row.id}:{uuid.uuid4()}",
            correlation_id=str(row.bulk_change_id),
        )
        for row in rows
    ]


async def notify_outbox(session: AsyncSession) -> None:
    """Wake the relay when this transaction commits (NOTIFY is delivered on commit)."""
    await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


class Relay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: Publisher,
        *,
        batch_size: int = 2000,
        depth: int = 3,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._publisher = publisher
        self._batch_size = batch_size
        self._depth = depth
        self.published = 0

    async def drain_device_changes(self) -> int:
        """Publish every pending device change, pipelined: while one batch awaits its
        confirms the next is claimed and published (at most ``depth`` batches in flight).

        The relay's turn is held by a transaction of its own for the whole drain; each batch
        is claimed, and marked published once confirmed, in short transactions of their own,
        so no device change row stays locked while the broker confirms (a worker starts it at
        once). A failed publish leaves its rows and the ones after them for the next drain.
        """
        async with self._sessionmaker() as turn, turn.begin():
            await turn.execute(_TAKE_TURN)
            in_flight: deque[tuple[list[Any], asyncio.Task[None]]] = deque()
            after, exhausted, published = 0, False, 0
            try:
                while True:
                    if not exhausted and len(in_flight) < self._depth:
                        rows = await self._claim_device_changes(after)
                        if rows:
                            after = rows[-1].id
                            task = asyncio.create_task(
                                self._publisher.publish_many(_device_messages(rows))
                            )
                            in_flight.append((rows, task))
                            continue
                        exhausted = True
                    if not in_flight:
                        break
                    rows, task = in_flight.popleft()
                    await task
                    await self._mark_device_changes(rows)
                    published += len(rows)
            finally:
                for _, task in in_flight:
                    task.cancel()
                await asyncio.gather(*(t for _, t in in_flight), return_exceptions=True)
        return published

    async def _claim_device_changes(self, after: int) -> list[Any]:
        async with self._sessionmaker() as session:
            rows = await session.execute(
                _CLAIM_DEVICE_CHANGES, {"after": after, "limit": self._batch_size}
            )
            return list(rows.all())

    async def _mark_device_changes(self, rows: list[Any]) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(_MARK_DEVICE_CHANGES, {"ids": [r.id for r in rows]})
            await session.execute(
                _START_BULK_CHANGES, {"ids": list({r.bulk_change_id for r in rows})}
            )

    async def drain_outbox(self) -> int:
        async with self._sessionmaker() as session, session.begin():
            rows = (await session.execute(_CLAIM_OUTBOX, {"limit": self._batch_size})).all()
            if not rows:
                return 0
            await self._publisher.publish_many(
                [
                    Outgoing(
                        exchange=row.exchange,
                        routing_key=row.routing_key,
                        body=row.body,
                        message_id=f"outbox:{row.id}",
                        correlation_id=row.body.get("correlation_id"),
                        expiration_ms=row.expiration_ms,
                    )
                    for row in rows
                ]
            )
            await session.execute(_MARK_OUTBOX, {"ids": [r.id for r in rows]})
        return len(rows)

    async def drain(self) -> int:
        """Publish everything pending now; returns how many messages went out."""
        total = 0
        while True:
            n = await self.drain_device_changes() + await self.drain_outbox()
            if n == 0:
                break
            total += n
        self.published += total
        if total:
            log.info("relay published", count=total)
        return total

    async def run(self, dsn: str, stop: asyncio.Event, *, poll_interval_s: float = 2.0) -> None:
        wake = asyncio.Event()
        listener = await asyncpg.connect(asyncpg_dsn(dsn))
        await listener.add_listener(NOTIFY_CHANNEL, lambda *_: wake.set())
        try:
            while not stop.is_set():
                wake.clear()
                try:
                    await self.drain()
                except (aio_pika.exceptions.AMQPError, OSError, asyncpg.PostgresError):
                    log.exception("relay drain failed; will retry")
                    await asyncio.sleep(1.0)
                    continue
                with contextlib.suppress(TimeoutError):
                    waiters = [asyncio.create_task(wake.wait()), asyncio.create_task(stop.wait())]
                    try:
                        await asyncio.wait(
                            waiters, timeout=poll_interval_s, return_when=asyncio.FIRST_COMPLETED
                        )
                    finally:
                        for w in waiters:
                            w.cancel()
        finally:
            await listener.close()


class RelaySettings(CommonSettings):
    relay_batch_size: int = 2000
    # Device-change batches published and awaiting their confirms at once.
    relay_pipeline_depth: int = 3
    relay_poll_interval_s: float = 2.0


async def serve(settings: RelaySettings, stop: asyncio.Event) -> None:
    engine = create_engine(settings.database_url, pool_size=3, application_name="relay")
    connection = await aio_pika.connect_robust(settings.rabbitmq_url)
    try:
        channel = await open_confirm_channel(connection)
        await declare_topology(channel)
        relay = Relay(
            create_sessionmaker(engine),
            Publisher(channel),
            batch_size=settings.relay_batch_size,
            depth=settings.relay_pipeline_depth,
        )
        log.info("relay started")
        await relay.run(settings.database_url, stop, poll_interval_s=settings.relay_poll_interval_s)
    finally:
        await connection.close()
        await engine.dispose()
        log.info("relay stopped")


def main() -> None:
    argparse.ArgumentParser(description="devicebulk outbox relay").parse_args()
    settings = RelaySettings()
    configure_logging(level=settings.log_level, fmt=settings.log_format, service="relay")

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    # uvloop: ~20 % less CPU than asyncio's loop for the per-message work of AMQP and PostgreSQL.
    uvloop.run(_main())
