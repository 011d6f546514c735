"""The notifier as it runs: the real Consumer on real RabbitMQ, the service's ``run`` with its
probes, and graceful stop."""

from __future__ import annotations

import asyncio
import json

import aio_pika
from notifier_helpers import (
    SmtpSink,
    completed,
    create_bulk_change,
    failed,
    free_port,
    success,
    wait_until,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.contracts import (
    EXCHANGE_EVENTS,
    QUEUE_NOTIFIER,
    ROUTING_BULK_CHANGE_COMPLETED,
    BulkChangeCompleted,
)
from devicebulk_common.health import HealthServer
from devicebulk_common.messaging.consumer import Consumer
from devicebulk_common.messaging.publisher import Outgoing, Publisher, open_confirm_channel
from devicebulk_common.messaging.topology import declare_topology
from devicebulk_notifier.handler import CompletionHandler
from devicebulk_notifier.main import run
from devicebulk_notifier.settings import NotifierSettings


def _outgoing(event: BulkChangeCompleted, message_id: str) -> Outgoing:
    return Outgoing(
        exchange=EXCHANGE_EVENTS,
        routing_key=ROUTING_BULK_CHANGE_COMPLETED,
        body=json.loads(event.model_dump_json()),
        message_id=message_id,
        correlation_id=event.correlation_id,
    )


async def _get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_event_delivered_twice_through_rabbitmq_sends_one_email(
    notifier_rabbitmq_url: str,
    notifier_handler: CompletionHandler,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    bulk_change_id = await create_bulk_change(
        notifier_sessionmaker, results=[success(), failed("E", "x")]
    )
    event = completed(bulk_change_id)
    connection = await aio_pika.connect_robust(notifier_rabbitmq_url)
    try:
        channel = await connection.channel()
        await declare_topology(channel)
        consumer = Consumer(
            channel, QUEUE_NOTIFIER, BulkChangeCompleted, notifier_handler, prefetch=4
        )
        await consumer.start()
        publisher = Publisher(await open_confirm_channel(connection))
        await publisher.publish_many([_outgoing(event, "m-1"), _outgoing(event, "m-2")])

        await wait_until(lambda: consumer.handled == 2)
        await consumer.stop()

        assert len(notifier_smtp.messages) == 1
        queue = await channel.declare_queue(QUEUE_NOTIFIER, passive=True)
        assert queue.declaration_result.message_count == 0
    finally:
        await connection.close()


async def test_service_answers_probes_sends_and_stops_gracefully(
    notifier_rabbitmq_url: str,
    notifier_database_url: str,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    settings = NotifierSettings(
        database_url=notifier_database_url,
        rabbitmq_url=notifier_rabbitmq_url,
        smtp_host=notifier_smtp.host,
        smtp_port=notifier_smtp.port,
        mail_from="devicebulk@example.test",
        notifier_health_host="127.0.0.1",
        notifier_health_port=free_port(),
        notifier_default_recipient=None,
    )
    port = settings.notifier_health_port
    stop = asyncio.Event()
    service = asyncio.create_task(run(settings, stop))
    try:

        async def ready() -> bool:
            try:
                return (await _get(port, "/readyz"))[0] == 200
            except OSError:
                return False

        for _ in range(100):
            if await ready():
                break
            await asyncio.sleep(0.1)
        assert await ready()
        assert (await _get(port, "/healthz"))[0] == 200
        assert (await _get(port, "/nope"))[0] == 404

        bulk_change_id = await create_bulk_change(notifier_sessionmaker, results=[success()])
        connection = await aio_pika.connect_robust(notifier_rabbitmq_url)
        try:
            publisher = Publisher(await open_confirm_channel(connection))
            await publisher.publish(_outgoing(completed(bulk_change_id), "m-3"))
        finally:
            await connection.close()
        await wait_until(lambda: len(notifier_smtp.messages) == 1)

        status, metrics = await _get(port, "/metrics")
        assert status == 200
        assert b'devicebulk_notifier_events_total{outcome="sent"}' in metrics
    finally:
        stop.set()
        await asyncio.wait_for(service, timeout=30)
    assert service.exception() is None


async def test_readyz_is_503_while_a_dependency_is_down() -> None:
    async def database() -> bool:
        raise ConnectionRefusedError

    async def broker() -> bool:
        return True

    health = HealthServer(host="127.0.0.1", port=0, checks=[database, broker])
    await health.start()
    try:
        assert (await _get(health.port, "/readyz"))[0] == 503
        assert (await _get(health.port, "/healthz"))[0] == 200
    finally:
        await health.close()
