"""The send attempt of a completion email, committed before the SMTP conversation.

What a delivery finds decides what it does (:func:`claim`):

- nothing: it records a new attempt (``sending``, a new Message-ID) and sends;
- ``sent`` (or a ``notification_sent`` row): nothing to do;
- ``failed`` (the last attempt knows the server did not take it): it sends again, same
  Message-ID;
- ``sending`` younger than ``resend_after_s``: another delivery may be sending right now; it
  waits and looks again;
- ``sending`` older than that: the attempt's process died mid-conversation (perhaps after the
  server took the email). It is resent with the **same** Message-ID.

Why resend rather than leave it for a person: most deaths happen before the server has the
message (a killed pod while connecting or streaming a large attachment), and leaving those to a
person means the requester silently never gets a report. Resending costs, in the rarer case the
server had already taken it, a second copy with the same Message-ID, which mail systems treat
as the same message (deduplicated or threaded as one); the alertable log line names it. The
timeout exceeds the bound on one SMTP conversation, so an attempt still under way is never
doubled.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common.models import NotificationAttempt, NotificationSent

log = structlog.get_logger(__name__)

ERROR_CHARS = 1000


class State(enum.StrEnum):
    SENDING = "sending"
    FAILED = "failed"
    SENT = "sent"
    REFUSED = "refused"


@dataclass(frozen=True)
class Claimed:
    """This delivery sends: with this Message-ID, to this address."""

    message_id: str
    recipient: str
    attempts: int


@dataclass(frozen=True)
class Done:
    state: State


@dataclass(frozen=True)
class Wait:
    """Another attempt may be under way: look again in ``seconds``."""

    seconds: float


Decision = Claimed | Done | Wait


async def claim(
    session: AsyncSession,
    bulk_change_id: uuid.UUID,
    completion_seq: int,
    *,
    recipient: str,
    message_id: str,
    fallback_reason: str | None,
    resend_after_s: float,
) -> Decision:
    """Decide (in the open transaction, which the caller commits before any SMTP)."""
    key = (NotificationSent.bulk_change_id == bulk_change_id) & (
        NotificationSent.completion_seq == completion_seq
    )
    if await session.scalar(select(NotificationSent.message_id).where(key)) is not None:
        return Done(State.SENT)
    inserted = await session.scalar(
        insert(NotificationAttempt)
        .values(
            bulk_change_id=bulk_change_id,
            completion_seq=completion_seq,
            message_id=message_id,
            recipient=recipient,
            state=State.SENDING.value,
            attempts=1,
            fallback_reason=fallback_reason,
        )
        .on_conflict_do_nothing(
            index_elements=[NotificationAttempt.bulk_change_id, NotificationAttempt.completion_seq]
        )
        .returning(NotificationAttempt.message_id)
    )
    if inserted is not None:
        return Claimed(message_id=message_id, recipient=recipient, attempts=1)
    row = (
        await session.execute(
            select(
                NotificationAttempt,
                func.extract("epoch", func.now() - NotificationAttempt.attempted_at),
            )
            .where(
                NotificationAttempt.bulk_change_id == bulk_change_id,
                NotificationAttempt.completion_seq == completion_seq,
            )
            .with_for_update()
        )
    ).one()
    attempt, age_s = row[0], float(row[1])
    state = State(attempt.state)
    if state in (State.SENT, State.REFUSED):
        return Done(state)
    if state is State.SENDING:
        if age_s < resend_after_s:
            return Wait(seconds=resend_after_s - age_s)
        log.warning(
            "completion email attempt never finished (the notifier died during it); resending "
            "with the same Message-ID, the requester may see it twice",
            message_id=attempt.message_id,
            attempts=attempt.attempts,
            alert="notifier_resend_unfinished_attempt",
        )
    attempt.state = State.SENDING.value
    attempt.attempts += 1
    attempt.attempted_at = func.now()  # type: ignore[assignment]
    return Claimed(
        message_id=attempt.message_id, recipient=attempt.recipient, attempts=attempt.attempts
    )


async def redirect(
    session: AsyncSession,
    bulk_change_id: uuid.UUID,
    completion_seq: int,
    *,
    recipient: str,
    reason: str,
) -> None:
    """The recipient refused: the attempt goes to ``recipient`` now, and says why."""
    await session.execute(
        update(NotificationAttempt)
        .where(
            NotificationAttempt.bulk_change_id == bulk_change_id,
            NotificationAttempt.completion_seq == completion_seq,
        )
        .values(
            recipient=recipient,
            fallback_reason=func.concat_ws(
                "; ", NotificationAttempt.fallback_reason, reason[:ERROR_CHARS]
            ),
            attempted_at=func.now(),
        )
    )


async def finish(
    session: AsyncSession,
    bulk_change_id: uuid.UUID,
    completion_seq: int,
    *,
    state: State,
    error: str | None = None,
) -> None:
    values: dict[str, object] = {"state": state.value}
    if error is not None:
        values["last_error"] = error[:ERROR_CHARS]
    await session.execute(
        update(NotificationAttempt)
        .where(
            NotificationAttempt.bulk_change_id == bulk_change_id,
            NotificationAttempt.completion_seq == completion_seq,
        )
        .values(**values)
    )


async def record_sent(
    session: AsyncSession,
    bulk_change_id: uuid.UUID,
    completion_seq: int,
    *,
    recipient: str,
    message_id: str,
) -> None:
    await finish(session, bulk_change_id, completion_seq, state=State.SENT)
    await session.execute(
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
    )
