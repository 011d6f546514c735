"""`devicebulk-bulk-worker`: consume device messages and run their carrier operations.

SIGTERM/SIGINT stop consuming, let the device changes in flight finish, then close.
"""

from __future__ import annotations

import asyncio
import signal

import aio_pika
import structlog
import uvloop
from aio_pika.abc import AbstractRobustConnection

from devicebulk_common import contracts as c
from devicebulk_common.carriers.rate_limit import RateLimiter
from devicebulk_common.carriers.shared_tokens import SharedTokenCache
from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.health import HealthServer, database_check
from devicebulk_common.logging import configure_logging
from devicebulk_common.messaging.consumer import Consumer
from devicebulk_common.messaging.topology import declare_topology
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.handler import DeviceChangeHandler
from devicebulk_worker.retry import RetryPolicy
from devicebulk_worker.settings import WorkerSettings
from devicebulk_worker.watchdog import CallbackWatchdog

log = structlog.get_logger(__name__)


async def run(settings: WorkerSettings, stop: asyncio.Event) -> None:
    engine = create_engine(
        settings.database_url,
        # Transactions are short, none is open during a carrier call, and a batch of devices
        # takes one: a small fixed pool serves a process, and 4 worker processes with the
        # other services stay under PostgreSQL's 100 connections (the bench found 20 each too
        # many).
        pool_size=settings.database_pool_size,
        max_overflow=0,
        application_name="devicebulk-worker",
    )
    connection: AbstractRobustConnection | None = None

    consuming = False

    async def broker() -> bool:
        # Ready once consuming (not merely connected: the queues may not be declared yet).
        return consuming and connection is not None and not connection.is_closed

    health = HealthServer(
        host=settings.worker_health_host,
        port=settings.worker_health_port,
        checks=[database_check(engine), broker],
    )
    key = settings.credentials_key.get_secret_value()
    adapters = AdapterPool(
        credentials_key=key,
        # One OAuth token and one M2M session per carrier account for every worker process.
        token_cache=SharedTokenCache(engine, credentials_key=key),
        rate_limiter=RateLimiter(engine),
        rate_headroom=settings.worker_rate_headroom,
        rate_max_wait_s=settings.worker_rate_max_wait_s,
        timeout_s=settings.worker_http_timeout_s,
        max_connections=settings.worker_concurrency * 2,
        options={"thingspace": {"username_field": settings.worker_username_custom_field}},
        engine=engine,
    )
    try:
        await health.start()
        connection = await aio_pika.connect_robust(settings.rabbitmq_url)
        channel = await connection.channel()
        await declare_topology(channel)
        sessionmaker = create_sessionmaker(engine)
        handler = DeviceChangeHandler(
            sessionmaker,
            adapters,
            RetryPolicy(
                max_attempts=settings.worker_max_attempts,
                base_delay_s=settings.worker_retry_base_s,
                max_delay_s=settings.worker_retry_max_s,
            ),
            batch_max=settings.worker_batch_max,
            batch_wait_s=settings.worker_batch_wait_s,
            batch_quiet_s=settings.worker_batch_quiet_s,
            max_concurrent_calls=settings.worker_concurrency,
            lease_s=settings.worker_lease_s,
            account_wait_max_s=settings.worker_account_wait_max_s,
        )
        consumer = Consumer(
            channel,
            c.QUEUE_DEVICE_CHANGES,
            c.DeviceChangeMessage,
            handler,
            prefetch=max(settings.worker_prefetch, settings.worker_batch_max),
        )
        watchdog = CallbackWatchdog(
            sessionmaker,
            adapters,
            handler,
            timeout_s=settings.worker_callback_timeout_s,
            give_up_s=settings.worker_callback_give_up_s,
            max_attempts=settings.worker_max_attempts,
            hold_s=settings.worker_phase_hold_s,
        )
        watchdog_task = asyncio.create_task(
            watchdog.run(stop, interval_s=settings.worker_watchdog_interval_s)
        )
        await consumer.start()
        consuming = True
        log.info(
            "worker started",
            concurrency=settings.worker_concurrency,
            batch_max=settings.worker_batch_max,
        )
        await stop.wait()
        log.info("stopping", in_flight=consumer.in_flight)
        await consumer.stop(timeout_s=settings.worker_shutdown_grace_s)
        await watchdog_task
    finally:
        await health.close()
        if connection is not None:
            await connection.close()
        await adapters.aclose()
        await engine.dispose()
        log.info("worker stopped")


def main() -> None:
    settings = WorkerSettings()
    configure_logging(level=settings.log_level, fmt=settings.log_format, service="bulk-worker")

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run(settings, stop)

    # uvloop: ~20 % less CPU than asyncio's loop for the per-message work of AMQP and PostgreSQL.
    uvloop.run(_main())


if __name__ == "__main__":
    main()
