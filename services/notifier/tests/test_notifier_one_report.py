"""One report (issue 10): the send attempt and its Message-ID are committed before SMTP, so a
notifier killed after the server took the email does not send another with a new Message-ID."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap

import pytest
from notifier_helpers import (
    MAIL_FROM,
    SmtpSink,
    attempt_row,
    completed,
    create_bulk_change,
    free_port,
    notification_row,
    success,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_notifier.handler import CompletionHandler, Outcome
from devicebulk_notifier.sender import SmtpSender

# A notifier that handles one event and is killed (SIGKILL) the moment the server took the email.
KILLED_AFTER_SMTP = textwrap.dedent(
    """
    import asyncio, os, signal, sys, uuid
    from datetime import UTC, datetime
    from devicebulk_common.contracts import BulkChangeCompleted, BulkChangeStatus
    from devicebulk_common.db.engine import create_engine, create_sessionmaker
    from devicebulk_notifier.handler import CompletionHandler
    from devicebulk_notifier.sender import SmtpSender

    class KilledAfterSend(SmtpSender):
        async def send(self, message):
            await super().send(message)
            os.kill(os.getpid(), signal.SIGKILL)

    async def main():
        engine = create_engine(sys.argv[1])
        handler = CompletionHandler(
            create_sessionmaker(engine),
            KilledAfterSend(host="127.0.0.1", port=int(sys.argv[2]), timeout_s=10),
            mail_from=sys.argv[3],
        )
        await handler.handle(BulkChangeCompleted(
            bulk_change_id=uuid.UUID(sys.argv[4]),
            status=BulkChangeStatus.PROCESSED,
            completed_at=datetime.now(UTC),
        ))

    asyncio.run(main())
    """
)


async def test_notifier_killed_after_smtp_accepted_never_sends_a_new_message_id(
    notifier_database_url: str,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    bulk_change_id = await create_bulk_change(notifier_sessionmaker, results=[success()] * 3)
    killed = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            KILLED_AFTER_SMTP,
            notifier_database_url,
            str(notifier_smtp.port),
            MAIL_FROM,
            str(bulk_change_id),
        ],
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    (first,) = notifier_smtp.messages
    attempt = await attempt_row(notifier_sessionmaker, bulk_change_id)
    assert attempt is not None
    assert (attempt.state, attempt.message_id) == ("sending", first["Message-ID"])

    # The event is redelivered; the dead attempt is older than resend_after_s: resent, same id.
    handler = CompletionHandler(
        notifier_sessionmaker,
        notifier_smtp.sender(),
        mail_from=MAIL_FROM,
        resend_after_s=0.2,
        poll_s=0.05,
    )
    assert await handler.handle(completed(bulk_change_id)) is Outcome.SENT
    assert await handler.handle(completed(bulk_change_id)) is Outcome.ALREADY_SENT

    message_ids = [m["Message-ID"] for m in notifier_smtp.messages]
    assert message_ids == [first["Message-ID"]] * 2
    sent = await notification_row(notifier_sessionmaker, bulk_change_id)
    assert sent is not None and sent.message_id == first["Message-ID"]
    attempt = await attempt_row(notifier_sessionmaker, bulk_change_id)
    assert attempt is not None and (attempt.state, attempt.attempts) == ("sent", 2)


async def test_a_failed_send_is_retried_with_the_same_message_id(
    notifier_handler: CompletionHandler,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    bulk_change_id = await create_bulk_change(notifier_sessionmaker, results=[success()])
    down = CompletionHandler(
        notifier_sessionmaker,
        SmtpSender(host="127.0.0.1", port=free_port(), timeout_s=5),
        mail_from=MAIL_FROM,
    )
    with pytest.raises(OSError):  # aiosmtplib's SMTPConnectError: the server is not there
        await down.handle(completed(bulk_change_id))
    failed = await attempt_row(notifier_sessionmaker, bulk_change_id)
    assert failed is not None and failed.state == "failed" and failed.last_error

    assert await notifier_handler.handle(completed(bulk_change_id)) is Outcome.SENT

    (message,) = notifier_smtp.messages
    assert message["Message-ID"] == failed.message_id
