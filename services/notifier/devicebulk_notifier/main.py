"""``devicebulk-notifier``: consumes ``bulk_change.completed`` and sends one email per completed
bulk change. SIGTERM/SIGINT stop consuming, let in-flight emails finish, then close."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import aio_pika
import structlog
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from devicebulk_common.contracts import QUEUE_NOTIFIER, BulkChangeCompleted
from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.health import Check, HealthServer, database_check
from devicebulk_common.logging import configure_logging
from devicebulk_common.messaging.consumer import Consumer
from devicebulk_common.messaging.topology import declare_topology
from devicebulk_notifier.handler import CompletionHandler
from devicebulk_notifier.results import Attachment
from devicebulk_notifier.sender import SmtpSender
from devicebulk_notifier.settings import NotifierSettings

log = structlog.get_logger(__name__)


def build_sender(settings: NotifierSettings) -> SmtpSender:
    return SmtpSender(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
        timeout_s=settings.notifier_smtp_timeout_s,
    )


def readiness_checks(
    engine: AsyncEngine, connection: Callable[[], AbstractRobustConnection | None]
) -> list[Check]:
    """The database answers ``SELECT 1`` and the AMQP connection is open."""

    async def broker() -> bool:
        conn = connection()
        return conn is not None and not conn.is_closed and conn.connected.is_set()

    return [database_check(engine), broker]


async def run(settings: NotifierSettings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then drain and close everything that was opened."""
    engine = create_engine(
        settings.database_url,
        # An in-flight email uses a connection at a time; the readiness probe needs one more.
        pool_size=max(settings.database_pool_size, settings.notifier_prefetch + 1),
        application_name="devicebulk-notifier",
    )
    connection: AbstractRobustConnection | None = None
    consuming = False
    health = HealthServer(
        host=settings.notifier_health_host,
        port=settings.notifier_health_port,
        # Ready once consuming (not merely connected: the queue may not be declared yet).
        checks=readiness_checks(engine, lambda: connection if consuming else None),
    )
    try:
        await health.start()
        connection = await aio_pika.connect_robust(settings.rabbitmq_url)
        channel = await connection.channel()
        await declare_topology(channel)
        handler = CompletionHandler(
            create_sessionmaker(engine),
            build_sender(settings),
            mail_from=settings.mail_from,
            default_recipient=settings.notifier_default_recipient,
            resend_after_s=settings.notifier_resend_after_s,
            attachment=Attachment(
                compress_above_bytes=settings.notifier_csv_compress_above_bytes,
                link_above_bytes=settings.notifier_csv_link_above_bytes,
                results_base_url=settings.notifier_results_base_url,
            ),
        )
        consumer = Consumer(
            channel,
            QUEUE_NOTIFIER,
            BulkChangeCompleted,
            handler,
            prefetch=settings.notifier_prefetch,
            requeue_delay_s=settings.notifier_requeue_delay_s,
        )
        await consumer.start()
        consuming = True
        await stop.wait()
        log.info("stopping", in_flight=consumer.in_flight)
        await consumer.stop(timeout_s=settings.notifier_shutdown_timeout_s)
    finally:
        await health.close()
        if connection is not None:
            await connection.close()
        await engine.dispose()
        log.info("stopped")


async def _serve(settings: NotifierSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(settings, stop)


def main() -> None:
    settings = NotifierSettings()
    configure_logging(level=settings.log_level, fmt=settings.log_format, service="notifier")
    asyncio.run(_serve(settings))


if __name__ == "__main__":
    main()
