"""Handles ``bulk_change.completed``: one email per completion of a bulk change, however many
times the event is delivered (docs/architecture.md, The rules). A bulk change whose
failed devices were retried completes again (its ``completion_seq`` grows): that completion is a
new one and gets its own email.

The send attempt, with its Message-ID and recipient, is committed *before* the SMTP
conversation (:mod:`devicebulk_notifier.attempts` says what a later delivery does with it);
its end (sent, failed, refused) is committed after. No transaction is open while SMTP talks.

One recipient (:mod:`devicebulk_notifier.recipients`): the requester's address if it is one
valid address, else the tenant's, else the default; a 5xx refusal of the recipient moves the
attempt on to the next of those, and the attempt row and a log line say why.
"""

from __future__ import annotations

import asyncio
import enum
import uuid

import structlog
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.contracts import BulkChangeCompleted
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.logging import bound
from devicebulk_common.messaging.consumer import MalformedMessage
from devicebulk_notifier import attempts, metrics
from devicebulk_notifier.email import build_message, new_message_id
from devicebulk_notifier.recipients import Recipients, choose_recipients
from devicebulk_notifier.report import Report, build_csv, build_report, load_target
from devicebulk_notifier.results import Attachment, Results, package_results
from devicebulk_notifier.sender import RecipientRefused, Sender

log = structlog.get_logger(__name__)

# A delivery that finds another attempt under way looks again this often.
POLL_S = 2.0


class Outcome(enum.StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    NO_RECIPIENT = "no_recipient"
    REFUSED = "refused"


class CompletionHandler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        sender: Sender,
        *,
        mail_from: str,
        default_recipient: str | None = None,
        resend_after_s: float = 120.0,
        attachment: Attachment | None = None,
        poll_s: float = POLL_S,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._sender = sender
        self._mail_from = mail_from
        self._default_recipient = default_recipient
        self._resend_after_s = resend_after_s
        self._attachment = attachment or Attachment()
        self._poll_s = poll_s

    async def __call__(self, event: BulkChangeCompleted, message: AbstractIncomingMessage) -> None:
        """The :class:`~devicebulk_common.messaging.consumer.Consumer` entry point."""
        await self.handle(event)

    async def handle(self, event: BulkChangeCompleted) -> Outcome:
        with bound(
            bulk_change_id=str(event.bulk_change_id),
            correlation_id=event.correlation_id,
            completion_seq=event.completion_seq,
        ):
            outcome = await self._handle(event.bulk_change_id, event.completion_seq)
        metrics.NOTIFICATIONS.labels(outcome=outcome.value).inc()
        return outcome

    async def _claim(
        self, bulk_change_id: uuid.UUID, seq: int
    ) -> tuple[attempts.Claimed, Recipients] | Outcome:
        """Record the attempt (committed), or say why there is none; waits while another
        attempt may be under way."""
        first = True
        while True:
            async with unit_of_work(self._sessionmaker) as session:
                target = await load_target(session, bulk_change_id)
                if target is None:
                    raise MalformedMessage(f"bulk change {bulk_change_id} does not exist")
                recipients = choose_recipients(target, self._default_recipient)
                for reason in recipients.skipped if first else ():
                    log.warning("completion email recipient skipped", reason=reason)
                first = False
                if not recipients.candidates:
                    log.warning(
                        "no recipient for the completion email: the bulk change, its tenant "
                        "and NOTIFIER_DEFAULT_RECIPIENT name no valid address; nothing sent"
                    )
                    return Outcome.NO_RECIPIENT
                decision = await attempts.claim(
                    session,
                    bulk_change_id,
                    seq,
                    recipient=recipients.candidates[0].address,
                    message_id=new_message_id(self._mail_from),
                    fallback_reason="; ".join(recipients.skipped) or None,
                    resend_after_s=self._resend_after_s,
                )
            if isinstance(decision, attempts.Claimed):
                return decision, recipients
            if isinstance(decision, attempts.Done):
                log.info("completion email already handled; nothing to do", state=decision.state)
                return (
                    Outcome.REFUSED
                    if decision.state is attempts.State.REFUSED
                    else (Outcome.ALREADY_SENT)
                )
            await asyncio.sleep(min(decision.seconds, self._poll_s))

    async def _handle(self, bulk_change_id: uuid.UUID, seq: int) -> Outcome:
        claimed = await self._claim(bulk_change_id, seq)
        if isinstance(claimed, Outcome):
            return claimed
        attempt, recipients = claimed
        try:
            async with self._sessionmaker() as session:
                target = await load_target(session, bulk_change_id)
                assert target is not None  # it was there a moment ago and is never deleted
                report = await build_report(session, target.bulk_change)
                csv_data = await build_csv(session, bulk_change_id)
            results = await asyncio.to_thread(
                package_results, report.bulk_change_id, csv_data, self._attachment
            )
            recipient = await self._send(bulk_change_id, seq, attempt, recipients, report, results)
        except Exception as exc:
            # The server did not take it (or we do not know): the next delivery sends again,
            # with the same Message-ID.
            async with unit_of_work(self._sessionmaker) as session:
                await attempts.finish(
                    session, bulk_change_id, seq, state=attempts.State.FAILED, error=repr(exc)
                )
            raise
        if recipient is None:
            return Outcome.REFUSED
        # The server has it: from here on, a failure leaves the attempt "sending" (resent with
        # the same Message-ID after NOTIFIER_RESEND_AFTER_S), never "failed".
        async with unit_of_work(self._sessionmaker) as session:
            await attempts.record_sent(
                session, bulk_change_id, seq, recipient=recipient, message_id=attempt.message_id
            )
        log.info(
            "completion email sent",
            recipient=recipient,
            message_id=attempt.message_id,
            attempts=attempt.attempts,
            succeeded=report.succeeded,
            failed=report.failed_total,
            csv_bytes=len(csv_data),
            results=results.kind,
        )
        return Outcome.SENT

    async def _send(
        self,
        bulk_change_id: uuid.UUID,
        seq: int,
        attempt: attempts.Claimed,
        recipients: Recipients,
        report: Report,
        results: Results,
    ) -> str | None:
        """Send, falling back on a permanent refusal; the address that took it, or None when
        every address was refused."""
        recipient, rest = attempt.recipient, recipients.after(attempt.recipient)
        while True:
            message = build_message(
                report,
                results,
                mail_from=self._mail_from,
                recipient=recipient,
                message_id=attempt.message_id,
            )
            try:
                # Raises unless the server took it: the event is requeued and sent again.
                await self._sender.send(message)
            except RecipientRefused as exc:
                if not rest:
                    log.error(
                        "completion email refused for every address; nothing sent",
                        error=str(exc),
                        alert="notifier_all_recipients_refused",
                    )
                    async with unit_of_work(self._sessionmaker) as session:
                        await attempts.finish(
                            session,
                            bulk_change_id,
                            seq,
                            state=attempts.State.REFUSED,
                            error=str(exc),
                        )
                    return None
                reason = f"{recipient} refused ({exc}); sent to the {rest[0].source} address"
                log.warning("completion email recipient refused; falling back", reason=reason)
                recipient, rest = rest[0].address, rest[1:]
                async with unit_of_work(self._sessionmaker) as session:
                    await attempts.redirect(
                        session, bulk_change_id, seq, recipient=recipient, reason=reason
                    )
                continue
            return recipient
