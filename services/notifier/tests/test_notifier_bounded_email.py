"""Bounded emails (issue 9): user text is quoted truncated, and the per-device CSV is attached
compressed above a size and replaced by a link to the results above a larger one."""

from __future__ import annotations

import csv
import gzip
import io

from notifier_helpers import (
    MAIL_FROM,
    SmtpSink,
    completed,
    create_bulk_change,
    failed,
    html_part,
    success,
    text_part,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.contracts import ChangeType
from devicebulk_notifier.handler import CompletionHandler, Outcome
from devicebulk_notifier.results import Attachment


async def test_a_million_character_username_is_quoted_truncated_on_one_header_line(
    notifier_handler: CompletionHandler,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    username = "mallory\r\nBcc: thief@evil.test\x1b" + "x" * 1_000_000
    bulk_change_id = await create_bulk_change(
        notifier_sessionmaker,
        results=[success(), failed("E1", "y" * 5_000)],
        change_type=ChangeType.EDIT_USERNAME,
        request={"Username": {"NewUsername": username}},
    )

    assert await notifier_handler.handle(completed(bulk_change_id)) is Outcome.SENT

    (envelope,) = notifier_smtp.envelopes
    assert len(envelope.content) < 40_000  # the 1 MB username appears nowhere whole
    (message,) = notifier_smtp.messages
    assert message.get_all("Bcc") is None
    subject = str(message["Subject"])
    assert "\n" not in subject and "\r" not in subject and "\x1b" not in subject
    assert len(subject) < 250
    assert "mallory Bcc: thief@evil.test?xxx" in subject and "…" in subject
    for body in (text_part(message), html_part(message)):
        assert "x" * 300 not in body and "y" * 300 not in body
        assert "x" * 200 in body  # quoted, to a point


async def _send_with(
    sessionmaker: async_sessionmaker[AsyncSession], sink: SmtpSink, attachment: Attachment
) -> str:
    bulk_change_id = await create_bulk_change(
        sessionmaker, results=[success()] * 150 + [failed("E", "no")] * 50
    )
    handler = CompletionHandler(
        sessionmaker, sink.sender(), mail_from=MAIL_FROM, attachment=attachment
    )
    assert await handler.handle(completed(bulk_change_id)) is Outcome.SENT
    return str(bulk_change_id)


async def test_a_csv_above_the_compress_size_is_attached_gzipped(
    notifier_smtp: SmtpSink, notifier_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    bulk_change_id = await _send_with(
        notifier_sessionmaker,
        notifier_smtp,
        Attachment(compress_above_bytes=1_000, link_above_bytes=1_000_000),
    )

    (message,) = notifier_smtp.messages
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == f"bulk-change-{bulk_change_id}.csv.gz"
    assert attachment.get_content_type() == "application/gzip"
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(attachment.get_content()).decode())))
    assert len(rows) == 200 and rows[199]["error_code"] == "E"
    assert f"bulk-change-{bulk_change_id}.csv.gz" in text_part(message)


async def test_a_csv_above_the_link_size_is_replaced_by_the_results_link(
    notifier_smtp: SmtpSink, notifier_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    bulk_change_id = await _send_with(
        notifier_sessionmaker,
        notifier_smtp,
        Attachment(
            compress_above_bytes=100,
            link_above_bytes=100,
            results_base_url="https://devicebulk.example.test/",
        ),
    )

    (message,) = notifier_smtp.messages
    assert list(message.iter_attachments()) == []
    link = f"https://devicebulk.example.test/api/v1/bulk-changes/{bulk_change_id}/devices"
    assert link in text_part(message)
    assert link in html_part(message)
