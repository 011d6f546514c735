"""Handles ``bulk_change.completed``: one email per completion of a bulk change, however many
times the event is delivered (DESIGN.md §5, "Completion exactly once"). A bulk change whose
failed devices were retried completes again (its ``completion_seq`` grows): that completion is a
new one and gets its own email.

Everything happens in one transaction: the ``notification_sent`` row is inserted first
(``ON CONFLICT DO NOTHING``), the email is sent while that row is held, then the transaction
commits. A second delivery, even a concurrent one, either waits on the held row and then finds
it, or finds nothing because the first rolled back after its send failed, and sends itself.
"""

from __future__ import annotations

import enum
import uuid

import structlog
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.contracts import BulkChangeCompleted
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.logging import bound
from devicebulk_common.messaging.consumer import MalformedMessage
from devicebulk_common.models import NotificationSent
from devicebulk_notifier import metrics
from devicebulk_notifier.email import build_message, new_message_id
from devicebulk_notifier.report import Target, build_csv, build_report, load_target
from devicebulk_notifier.sender import Sender

log = structlog.get_logger(__name__)


class Outcome(enum.StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    NO_RECIPIENT = "no_recipient"


def choose_recipient(target: Target, default: str | None) -> str | None:
    """The bulk change's own address, else its tenant's, else the configured default."""
    for candidate in (target.bulk_change.notify_email, target.tenant_email, default):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


async def claim(
    session: AsyncSession,
    bulk_change_id: uuid.UUID,
    *,
    recipient: str,
    message_id: str,
    completion_seq: int = 1,
) -> bool:
    """Record the email of this completion as sent (in the open transaction); False if another
    delivery has."""
    stmt = (
        insert(NotificationSent)
        .values(
            bulk_change_id=bulk_change_id,
            completion_seq=completion_seq,
            recipient=recipient,
            message_id=message_id,
        )
        .on_conflict_do_nothing(
            index_elements=[NotificationSent.bulk_change_id, NotificationSent.completion_seq]
        )
        .returning(NotificationSent.bulk_change_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


class CompletionHandler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        sender: Sender,
        *,
        mail_from: str,
        default_recipient: str | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._sender = sender
        self._mail_from = mail_from
        self._default_recipient = default_recipient

    async def __call__(self, event: BulkChangeCompleted, message: AbstractIncomingMessage) -> None:
        """The :class:`~devicebulk_common.messaging.consumer.Consumer` entry point."""
        await self.handle(event)

    async def handle(self, event: BulkChangeCompleted) -> Outcome:
        with bound(
            bulk_change_id=str(event.bulk_change_id),
            correlation_id=event.correlation_id,
            completion_seq=event.completion_seq,
        ):
            async with unit_of_work(self._sessionmaker) as session:
                outcome = await self._handle(session, event.bulk_change_id, event.completion_seq)
        metrics.NOTIFICATIONS.labels(outcome=outcome.value).inc()
        return outcome

    async def _handle(
        self, session: AsyncSession, bulk_change_id: uuid.UUID, completion_seq: int
    ) -> Outcome:
        target = await load_target(session, bulk_change_id)
        if target is None:
            raise MalformedMessage(f"bulk change {bulk_change_id} does not exist")
        recipient = choose_recipient(target, self._default_recipient)
        if recipient is None:
            log.warning(
                "no recipient for the completion email: the bulk change, its tenant and "
                "NOTIFIER_DEFAULT_RECIPIENT name none; nothing sent"
            )
            return Outcome.NO_RECIPIENT
        message_id = new_message_id(self._mail_from)
        if not await claim(
            session,
            bulk_change_id,
            recipient=recipient,
            message_id=message_id,
            completion_seq=completion_seq,
        ):
            log.info("completion email already sent; nothing to do")
            return Outcome.ALREADY_SENT
        report = await build_report(session, target.bulk_change)
        csv_data = await build_csv(session, bulk_change_id)
        message = build_message(
            report, csv_data, mail_from=self._mail_from, recipient=recipient, message_id=message_id
        )
        # Raises if the server does not take it: the row rolls back and the event is requeued.
        await self._sender.send(message)
        log.info(
            "completion email sent",
            recipient=recipient,
            message_id=message_id,
            succeeded=report.succeeded,
            failed=report.failed_total,
            csv_bytes=len(csv_data),
        )
        return Outcome.SENT
