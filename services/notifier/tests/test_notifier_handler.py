"""The completion handler against real PostgreSQL and a real SMTP server."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from notifier_helpers import (
    MAIL_FROM,
    SmtpSink,
    completed,
    create_bulk_change,
    csv_rows,
    failed,
    free_port,
    html_part,
    iccid,
    notification_row,
    success,
    text_part,
    validation_failed,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.messaging.consumer import MalformedMessage
from devicebulk_notifier.handler import CompletionHandler, Outcome
from devicebulk_notifier.sender import SmtpSender

CSV_HEADER = [
    "iccid",
    "status",
    "error_code",
    "error_message",
    "msisdn",
    "carrier_request_id",
    "attempts",
    "completed_at",
]


def _mixed_results() -> list[dict[str, object]]:
    return (
        [success() for _ in range(195)]
        + [failed("INVALID_SERVICE_PLAN", "Service plan not allowed for this account")] * 3
        + [validation_failed("ICCID fails its Luhn check"), validation_failed("not your device")]
    )


async def test_completed_bulk_change_sends_one_report_email(
    notifier_handler: CompletionHandler,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    bulk_change_id = await create_bulk_change(notifier_sessionmaker, results=_mixed_results())

    assert await notifier_handler.handle(completed(bulk_change_id)) is Outcome.SENT

    (message,) = notifier_smtp.messages
    (envelope,) = notifier_smtp.envelopes
    assert envelope.mail_from == "devicebulk@example.test"
    assert envelope.rcpt_tos == ["operator@example.test"]
    assert message["To"] == "operator@example.test"
    assert message["From"] == MAIL_FROM
    assert message["Subject"] == (
        f"Bulk change {bulk_change_id} (StatusUpdate: Active) processed: 195 succeeded, 5 failed"
    )
    text, html = text_part(message), html_part(message)
    for body in (text, html):
        assert "195" in body
        for i in (195, 196, 197):
            assert iccid(i) in body
        assert "INVALID_SERVICE_PLAN: Service plan not allowed for this account" in body
        assert f"{iccid(198)}" in body and "ICCID fails its Luhn check" in body
        assert f"{iccid(199)}" in body and "not your device" in body
        assert iccid(0) not in body  # succeeded devices are only in the CSV

    name, rows = csv_rows(message)
    assert name == f"bulk-change-{bulk_change_id}.csv"
    assert len(rows) == 200
    assert list(rows[0]) == CSV_HEADER
    assert rows[0]["iccid"] == iccid(0)
    assert rows[0]["status"] == "Success"
    assert rows[0]["msisdn"] == "5550000000"
    assert rows[0]["carrier_request_id"] == "req-ok"
    assert rows[0]["attempts"] == "1"
    assert rows[0]["completed_at"]
    assert rows[195]["error_code"] == "INVALID_SERVICE_PLAN"
    assert rows[195]["error_message"] == "Service plan not allowed for this account"
    assert rows[198]["status"] == "ValidationFailed"
    assert rows[198]["error_message"] == "ICCID fails its Luhn check"

    row = await notification_row(notifier_sessionmaker, bulk_change_id)
    assert row is not None
    assert row.recipient == "operator@example.test"
    assert row.message_id == message["Message-ID"]


async def test_second_delivery_of_the_same_event_sends_nothing(
    notifier_handler: CompletionHandler,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    bulk_change_id = await create_bulk_change(notifier_sessionmaker, results=[success()])

    first = await notifier_handler.handle(completed(bulk_change_id))
    second = await notifier_handler.handle(completed(bulk_change_id))

    assert (first, second) == (Outcome.SENT, Outcome.ALREADY_SENT)
    assert len(notifier_smtp.messages) == 1


async def test_concurrent_deliveries_of_the_same_event_send_one_email(
    notifier_handler: CompletionHandler,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    bulk_change_id = await create_bulk_change(notifier_sessionmaker, results=[success()] * 20)

    outcomes = await asyncio.gather(
        *(notifier_handler.handle(completed(bulk_change_id)) for _ in range(4))
    )

    assert sorted(outcomes) == sorted([Outcome.SENT] + [Outcome.ALREADY_SENT] * 3)
    assert len(notifier_smtp.messages) == 1


async def test_smtp_down_raises_records_nothing_and_a_retry_sends(
    notifier_handler: CompletionHandler,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    bulk_change_id = await create_bulk_change(notifier_sessionmaker, results=[failed("E", "x")])
    down = CompletionHandler(
        notifier_sessionmaker,
        SmtpSender(host="127.0.0.1", port=free_port(), timeout_s=5),
        mail_from=MAIL_FROM,
    )

    with pytest.raises(Exception):  # noqa: B017 - whatever aiosmtplib raises: it must raise
        await down.handle(completed(bulk_change_id))

    assert await notification_row(notifier_sessionmaker, bulk_change_id) is None
    assert await notifier_handler.handle(completed(bulk_change_id)) is Outcome.SENT
    assert len(notifier_smtp.messages) == 1


@pytest.mark.parametrize(
    ("notify_email", "tenant_email", "expected"),
    [
        ("operator@example.test", "tenant@example.test", "operator@example.test"),
        (None, "tenant@example.test", "tenant@example.test"),
        (None, None, "ops@example.test"),
    ],
    ids=["bulk-change-address", "tenant-address", "default-address"],
)
async def test_recipient_falls_back_from_bulk_change_to_tenant_to_default(
    notifier_handler: CompletionHandler,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
    notify_email: str | None,
    tenant_email: str | None,
    expected: str,
) -> None:
    bulk_change_id = await create_bulk_change(
        notifier_sessionmaker,
        results=[success()],
        notify_email=notify_email,
        tenant_email=tenant_email,
    )

    await notifier_handler.handle(completed(bulk_change_id))

    (message,) = notifier_smtp.messages
    assert message["To"] == expected
    assert notifier_smtp.envelopes[0].rcpt_tos == [expected]
    row = await notification_row(notifier_sessionmaker, bulk_change_id)
    assert row is not None and row.recipient == expected


async def test_no_recipient_anywhere_sends_and_records_nothing(
    notifier_smtp: SmtpSink, notifier_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    handler = CompletionHandler(
        notifier_sessionmaker, notifier_smtp.sender(), mail_from=MAIL_FROM, default_recipient=None
    )
    bulk_change_id = await create_bulk_change(
        notifier_sessionmaker, results=[success()], notify_email=None, tenant_email=None
    )

    assert await handler.handle(completed(bulk_change_id)) is Outcome.NO_RECIPIENT

    assert notifier_smtp.messages == []
    assert await notification_row(notifier_sessionmaker, bulk_change_id) is None


async def test_body_lists_500_failed_devices_and_points_to_the_csv_for_the_rest(
    notifier_handler: CompletionHandler,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    results = [failed("TIMEOUT", f"no answer #{i}") for i in range(510)] + [success()] * 5
    bulk_change_id = await create_bulk_change(notifier_sessionmaker, results=results)

    await notifier_handler.handle(completed(bulk_change_id))

    (message,) = notifier_smtp.messages
    assert message["Subject"].endswith("processed: 5 succeeded, 510 failed")
    text, html = text_part(message), html_part(message)
    assert iccid(499) in text and iccid(500) not in text
    assert iccid(499) in html and iccid(500) not in html
    assert "10 more failed devices" in text
    assert "10 more failed devices" in html
    _, rows = csv_rows(message)
    assert len(rows) == 515
    assert rows[509]["error_message"] == "no answer #509"


async def test_carrier_text_is_escaped_in_html_and_neutralised_in_csv(
    notifier_handler: CompletionHandler,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    results = [
        failed("<b>E1</b>", "<script>alert('x')</script> & more"),
        failed("E2", '=HYPERLINK("http://evil.test","click")'),
    ]
    bulk_change_id = await create_bulk_change(
        notifier_sessionmaker,
        results=results,
        request={"StatusUpdate": {"TargetStatus": "<i>Active</i>"}},
    )

    await notifier_handler.handle(completed(bulk_change_id))

    (message,) = notifier_smtp.messages
    html = html_part(message)
    assert "<script>" not in html and "<b>E1</b>" not in html and "<i>Active</i>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in html
    assert "&lt;b&gt;E1&lt;/b&gt;" in html
    _, rows = csv_rows(message)
    assert rows[0]["error_message"] == "<script>alert('x')</script> & more"
    assert rows[1]["error_message"] == '\'=HYPERLINK("http://evil.test","click")'


async def test_event_for_an_unknown_bulk_change_is_malformed(
    notifier_handler: CompletionHandler, notifier_smtp: SmtpSink
) -> None:
    with pytest.raises(MalformedMessage):
        await notifier_handler.handle(completed(uuid.uuid4()))
    assert notifier_smtp.messages == []
