"""One recipient (issue 9): exactly one valid address; a list, an invalid address, a 5xx refusal
or a UTF-8 address the server cannot take falls back to the tenant's address, and says why."""

from __future__ import annotations

import pytest
from notifier_helpers import (
    MAIL_FROM,
    SmtpSink,
    attempt_row,
    completed,
    create_bulk_change,
    notification_row,
    success,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_notifier.handler import CompletionHandler, Outcome

TENANT = "tenant@example.test"


def _handler(sessionmaker: async_sessionmaker[AsyncSession], sink: SmtpSink) -> CompletionHandler:
    return CompletionHandler(sessionmaker, sink.sender(), mail_from=MAIL_FROM)


@pytest.mark.parametrize(
    "requester",
    [
        "operator@example.test, thief@evil.test",
        "operator@example.test,thief@evil.test",
        "Operator <operator@example.test>, thief@evil.test",
        "operator@example.test\r\nBcc: thief@evil.test",
        "x" * 250 + "@example.test",
        "not an address",
    ],
    ids=["list", "list-no-space", "display-names", "header-injection", "too-long", "garbage"],
)
async def test_a_requester_address_that_is_not_one_address_sends_to_the_tenant_only(
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
    requester: str,
) -> None:
    bulk_change_id = await create_bulk_change(
        notifier_sessionmaker, results=[success()], notify_email=requester, tenant_email=TENANT
    )

    assert await _handler(notifier_sessionmaker, notifier_smtp).handle(
        completed(bulk_change_id)
    ) is (Outcome.SENT)

    (envelope,) = notifier_smtp.envelopes
    assert envelope.rcpt_tos == [TENANT]
    (message,) = notifier_smtp.messages
    assert message["To"] == TENANT and "evil" not in str(message["To"])
    assert message.get_all("Bcc") is None
    attempt = await attempt_row(notifier_sessionmaker, bulk_change_id)
    assert attempt is not None and attempt.fallback_reason
    assert "requester address" in attempt.fallback_reason


async def test_a_permanent_refusal_of_the_requester_falls_back_to_the_tenant_and_says_so(
    notifier_smtp: SmtpSink, notifier_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    notifier_smtp.collector.refused.add("gone@example.test")
    bulk_change_id = await create_bulk_change(
        notifier_sessionmaker,
        results=[success()],
        notify_email="gone@example.test",
        tenant_email=TENANT,
    )

    assert await _handler(notifier_sessionmaker, notifier_smtp).handle(
        completed(bulk_change_id)
    ) is (Outcome.SENT)

    (envelope,) = notifier_smtp.envelopes
    assert envelope.rcpt_tos == [TENANT]
    sent = await notification_row(notifier_sessionmaker, bulk_change_id)
    assert sent is not None and sent.recipient == TENANT
    attempt = await attempt_row(notifier_sessionmaker, bulk_change_id)
    assert attempt is not None and attempt.fallback_reason
    assert "gone@example.test refused (550" in attempt.fallback_reason
    assert "tenant address" in attempt.fallback_reason


async def test_every_address_refused_ends_without_an_email_and_is_not_retried(
    notifier_smtp: SmtpSink, notifier_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    notifier_smtp.collector.refused.update({"gone@example.test", TENANT})
    bulk_change_id = await create_bulk_change(
        notifier_sessionmaker,
        results=[success()],
        notify_email="gone@example.test",
        tenant_email=TENANT,
    )
    handler = _handler(notifier_sessionmaker, notifier_smtp)

    assert await handler.handle(completed(bulk_change_id)) is Outcome.REFUSED
    assert await handler.handle(completed(bulk_change_id)) is Outcome.REFUSED

    assert notifier_smtp.envelopes == []
    attempt = await attempt_row(notifier_sessionmaker, bulk_change_id)
    assert attempt is not None and attempt.state == "refused" and attempt.attempts == 1


async def test_a_non_ascii_address_is_sent_with_smtputf8(
    notifier_smtp_utf8: SmtpSink, notifier_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    bulk_change_id = await create_bulk_change(
        notifier_sessionmaker,
        results=[success()],
        notify_email="jörg@example.test",
        tenant_email=TENANT,
    )

    assert await _handler(notifier_sessionmaker, notifier_smtp_utf8).handle(
        completed(bulk_change_id)
    ) is (Outcome.SENT)

    (envelope,) = notifier_smtp_utf8.envelopes
    assert envelope.rcpt_tos == ["jörg@example.test"]
    assert "SMTPUTF8" in envelope.mail_options


async def test_a_non_ascii_address_without_smtputf8_falls_back_to_the_tenant(
    notifier_smtp: SmtpSink, notifier_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    bulk_change_id = await create_bulk_change(
        notifier_sessionmaker,
        results=[success()],
        notify_email="jörg@example.test",
        tenant_email=TENANT,
    )

    assert await _handler(notifier_sessionmaker, notifier_smtp).handle(
        completed(bulk_change_id)
    ) is (Outcome.SENT)

    (envelope,) = notifier_smtp.envelopes
    assert envelope.rcpt_tos == [TENANT]
    attempt = await attempt_row(notifier_sessionmaker, bulk_change_id)
    assert attempt is not None and attempt.fallback_reason
    assert "SMTPUTF8" in attempt.fallback_reason
