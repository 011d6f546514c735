"""How a device change moves, shared by the worker and the callback receiver.

Callers pass their session; the unit-of-work boundary (the caller) commits. Every terminal
transition goes through :func:`finish_device_change`, which is the only place the bulk change's
``remaining_count`` falls, so the transition to ``PROCESSED`` happens exactly once (the row lock
on ``bulk_change`` serialises the decrements) and alone writes ``bulk_change.completed``. The
countdown cannot go below zero (a CHECK constraint: the transaction that would fails), and the
completion also requires that no device change of the bulk change is still open.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.carriers.base import CarrierExchange
from devicebulk_common.models import DeviceChangeLog, OutboxMessage
from devicebulk_common.outbox.relay import notify_outbox

# SQL list of the terminal statuses (constants of the contract, not user input).
TERMINAL_SQL = "(" + ", ".join(f"'{s.value}'" for s in sorted(c.TERMINAL_DEVICE_STATUSES)) + ")"

_FINISH = text(
    f"""
    UPDATE device_change
    SET status = :status, error_code = :error_code, error_message = :error_message,
        result = COALESCE(CAST(:result AS jsonb), result), completed_at = now(), updated_at = now()
    WHERE id = :id AND status NOT IN {TERMINAL_SQL}
    RETURNING bulk_change_id
    """  # noqa: S608
)
_FINISH_MANY = text(
    f"""
    UPDATE device_change AS dc
    SET status = v.status, error_code = v.error_code, error_message = v.error_message,
        result = COALESCE(CAST(v.result AS jsonb), dc.result), completed_at = now(),
        updated_at = now()
    FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[]), CAST(:codes AS text[]),
                CAST(:messages AS text[]), CAST(:results AS text[]))
         AS v(id, status, error_code, error_message, result)
    WHERE dc.id = v.id AND dc.status NOT IN {TERMINAL_SQL}
    RETURNING dc.bulk_change_id
    """  # noqa: S608
)
_DECREMENT = text(
    """
    UPDATE bulk_change SET remaining_count = remaining_count - :n
    WHERE id = :id RETURNING remaining_count
    """
)
# Completes only when the countdown is at zero AND no device change is open: a count that
# went wrong must not announce a bulk change with devices still being worked.
_COMPLETE = text(
    f"""
    UPDATE bulk_change AS b
    SET status = 'PROCESSED', processed_at = now(), completion_seq = completion_seq + 1
    WHERE b.id = :id AND b.status IN ('NEW', 'PROCESSING') AND b.remaining_count = 0
      AND NOT EXISTS (
        SELECT 1 FROM device_change AS dc
        WHERE dc.bulk_change_id = b.id AND dc.status NOT IN {TERMINAL_SQL}
      )
    RETURNING processed_at, completion_seq
    """  # noqa: S608
)


def audit(
    session: AsyncSession,
    *,
    bulk_change_id: uuid.UUID,
    device_change_id: int | None,
    step: str,
    actor: str,
    status: str | None = None,
    message: str | None = None,
    exchange: CarrierExchange | None = None,
) -> None:
    """Append one row to the audit trail (flushed with the caller's transaction)."""
    session.add(
        DeviceChangeLog(
            bulk_change_id=bulk_change_id,
            device_change_id=device_change_id,
            step=step,
            actor=actor,
            status=status,
            message=message,
            http_method=exchange.method if exchange else None,
            http_url=exchange.url if exchange else None,
            http_status=exchange.status_code if exchange else None,
            request_text=exchange.request_body if exchange else None,
            response_text=exchange.response_body if exchange else None,
            duration_ms=exchange.duration_ms if exchange else None,
        )
    )


async def finish_device_change(
    session: AsyncSession,
    device_change_id: int,
    status: c.DeviceChangeStatus,
    *,
    error_code: str | None = None,
    error_message: str | None = None,
    result: dict[str, Any] | None = None,
) -> bool:
    """Move a device change to a terminal status, once. Returns False if it already was."""
    assert status in c.TERMINAL_DEVICE_STATUSES

    row = (
        await session.execute(
            _FINISH,
            {
                "id": device_change_id,
                "status": status.value,
                "error_code": error_code,
                "error_message": error_message,
                "result": json.dumps(result) if result is not None else None,
            },
        )
    ).first()
    if row is None:
        return False
    await count_terminal(session, row.bulk_change_id, 1)
    return True


@dataclass(frozen=True)
class Finish:
    """One device change's terminal outcome, for :func:`finish_device_changes`."""

    device_change_id: int
    status: c.DeviceChangeStatus
    error_code: str | None = None
    error_message: str | None = None
    result: dict[str, Any] | None = None


async def finish_device_changes(session: AsyncSession, finishes: Sequence[Finish]) -> int:
    """:func:`finish_device_change` for many at once: one UPDATE, one countdown per bulk
    change. Already terminal ones are left alone. Returns how many were finished."""
    if not finishes:
        return 0
    assert all(f.status in c.TERMINAL_DEVICE_STATUSES for f in finishes)
    rows = (
        await session.execute(
            _FINISH_MANY,
            {
                "ids": [f.device_change_id for f in finishes],
                "statuses": [f.status.value for f in finishes],
                "codes": [f.error_code for f in finishes],
                "messages": [f.error_message for f in finishes],
                "results": [
                    json.dumps(f.result) if f.result is not None else None for f in finishes
                ],
            },
        )
    ).all()
    per_bulk = Counter(r.bulk_change_id for r in rows)
    for bulk_change_id in sorted(per_bulk):
        await count_terminal(session, bulk_change_id, per_bulk[bulk_change_id])
    return len(rows)


async def count_terminal(session: AsyncSession, bulk_change_id: uuid.UUID, n: int) -> bool:
    """Record that ``n`` more device changes ended; completes the bulk change on the last one.

    Returns True if this call completed it.
    """
    remaining = (await session.execute(_DECREMENT, {"id": bulk_change_id, "n": n})).scalar_one()
    if remaining > 0:
        return False
    return await complete_bulk_change(session, bulk_change_id)


async def complete_bulk_change(session: AsyncSession, bulk_change_id: uuid.UUID) -> bool:
    """``PROCESSED`` once, and the completion event with it (published after commit).

    Once per round: a retry of the failed devices makes it ``PROCESSING`` again, and the next
    completion is counted (``completion_seq``) and announced as such."""
    row = (await session.execute(_COMPLETE, {"id": bulk_change_id})).first()
    if row is None:
        return False
    emit_completed(
        session,
        bulk_change_id,
        c.BulkChangeStatus.PROCESSED,
        row.processed_at,
        completion_seq=row.completion_seq,
    )
    await notify_outbox(session)
    return True


def emit_completed(
    session: AsyncSession,
    bulk_change_id: uuid.UUID,
    status: c.BulkChangeStatus,
    at: datetime | None = None,
    *,
    completion_seq: int = 1,
) -> None:
    """Write ``bulk_change.completed`` to the outbox. ``completion_seq`` is the bulk change's
    (incremented by the transition that completed it): the notifier sends one email for each."""
    event = c.BulkChangeCompleted(
        bulk_change_id=bulk_change_id,
        status=status,
        completed_at=at or datetime.now(UTC),
        correlation_id=str(bulk_change_id),
        completion_seq=completion_seq,
    )
    session.add(
        OutboxMessage(
            exchange=c.EXCHANGE_EVENTS,
            routing_key=c.ROUTING_BULK_CHANGE_COMPLETED,
            body=event.model_dump(mode="json"),
        )
    )
