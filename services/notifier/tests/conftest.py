"""Fixtures for the notifier's tests: a throwaway PostgreSQL database, a real SMTP server
(aiosmtpd) and a throwaway RabbitMQ vhost. Every name starts with ``notifier_``."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from notifier_helpers import MAIL_FROM, Collector, SmtpSink, free_port
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.db.migrate import upgrade
from devicebulk_notifier.handler import CompletionHandler

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
async def notifier_database_url() -> AsyncIterator[str]:
    name = f"notifier_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def notifier_engine(notifier_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(notifier_database_url, pool_size=8, application_name="notifier-tests")
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def notifier_sessionmaker(notifier_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(notifier_engine)


@pytest.fixture
def notifier_smtp() -> Iterator[SmtpSink]:
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpSink(host="127.0.0.1", port=controller.port, collector=collector)
    finally:
        controller.stop()


@pytest.fixture
def notifier_handler(
    notifier_sessionmaker: async_sessionmaker[AsyncSession], notifier_smtp: SmtpSink
) -> CompletionHandler:
    return CompletionHandler(
        notifier_sessionmaker,
        notifier_smtp.sender(),
        mail_from=MAIL_FROM,
        default_recipient="ops@example.test",
    )


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
async def notifier_rabbitmq_url() -> AsyncIterator[str]:
    vhost = f"notifier_test_{secrets.token_hex(6)}"
    await asyncio.to_thread(_rabbitmqctl, "add_vhost", vhost)
    try:
        await asyncio.to_thread(
            _rabbitmqctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"
        )
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        await asyncio.to_thread(_rabbitmqctl, "delete_vhost", vhost)
