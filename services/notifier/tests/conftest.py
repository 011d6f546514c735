"""Fixtures for the notifier's tests: the session's database and vhost (root conftest) and a
real SMTP server (aiosmtpd). Every name starts with ``notifier_``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from notifier_helpers import MAIL_FROM, Collector, SmtpSink, free_port
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_notifier.handler import CompletionHandler


@pytest.fixture(scope="session")
def notifier_database_url(database_url: str) -> str:
    """The repository's per-session database (root conftest)."""
    return database_url


@pytest.fixture(scope="session")
def notifier_sessionmaker(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    return sessionmaker


def _sink(*, smtputf8: bool) -> Iterator[SmtpSink]:
    collector = Collector()
    controller = Controller(
        collector, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=smtputf8
    )
    controller.start()
    try:
        yield SmtpSink(host="127.0.0.1", port=controller.port, collector=collector)
    finally:
        controller.stop()


@pytest.fixture
def notifier_smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) without SMTPUTF8."""
    yield from _sink(smtputf8=False)


@pytest.fixture
def notifier_smtp_utf8() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) that offers SMTPUTF8."""
    yield from _sink(smtputf8=True)


@pytest.fixture
def notifier_handler(
    notifier_sessionmaker: async_sessionmaker[AsyncSession], notifier_smtp: SmtpSink
) -> CompletionHandler:
    return CompletionHandler(
        notifier_sessionmaker,
        notifier_smtp.sender(),
        mail_from=MAIL_FROM,
        default_recipient="ops@example.test",
        poll_s=0.05,
    )


@pytest.fixture
def notifier_rabbitmq_url(private_amqp_url: str) -> str:
    """A vhost of its own (root conftest): the test counts every event the notifier gets."""
    return private_amqp_url
