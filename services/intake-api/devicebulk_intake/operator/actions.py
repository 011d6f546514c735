"""What an operator can do to a bulk change as a whole, each in the caller's unit of work.

Both are set-based (one statement for all its devices, 100,000 or 1) and audited per device.

- **Retry** the ``Failed`` device changes of a finished bulk change: they become ``Queued``
  again, unpublished, so the outbox relay publishes them as it does new ones; the bulk change is
  ``PROCESSING`` again and completes a second time (``completion_seq``), with its own email.
- **Cancel** what has not run: ``Queued`` and ``Retry`` device changes become ``Cancelled``
  (terminal). They are counted down like any other terminal transition
  (:func:`~devicebulk_common.lifecycle.count_terminal`), so the bulk change completes exactly
  once, now or when its last running device ends. The worker drops messages for them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.lifecycle import audit, count_terminal
from devicebulk_common.models import BulkChange, DeviceChange
from devicebulk_common.outbox.relay import notify_outbox
from devicebulk_intake.errors import AlreadyFinished, NoFailedDevices, NotFinished, NotFound
from devicebulk_intake.operator.schemas import CancelResult, RetryAccepted

FINISHED = frozenset({c.BulkChangeStatus.PROCESSED.value, c.BulkChangeStatus.ERROR.value})
RUNNING = (c.DeviceChangeStatus.PROCESSING.value, c.DeviceChangeStatus.AWAITING_CALLBACK.value)

# Rows are locked in id order, as the worker and the relay lock theirs, then the bulk change
# (count_terminal), as finish_device_change does: no lock-order deadlock with either.

# Failed → Queued, as if new: no attempts, no carrier request id (a late callback of the failed
# request must not match the new attempt), unpublished so the relay sends it again. The error
# code stays: after a Timeout the worker asks the carrier before sending again. The audit rows
# keep what it was.
_REQUEUE_FAILED = text(
    """
    WITH failed AS (
        SELECT id, error_code FROM device_change
        WHERE bulk_change_id = :bulk_id AND status = 'Failed'
        ORDER BY id FOR UPDATE
    ), requeued AS (
        UPDATE device_change AS dc
        SET status = 'Queued', attempts = 0, error_message = NULL,
            carrier_request_id = NULL, result = NULL, completed_at = NULL, published_at = NULL,
            updated_at = now()
        FROM failed
        WHERE dc.id = failed.id AND dc.status = 'Failed'
        RETURNING dc.id, failed.error_code
    ), logged AS (
        INSERT INTO device_change_log (bulk_change_id, device_change_id, step, actor, status, message)
        SELECT :bulk_id, id, 'retry', :actor, 'Queued',
               :message || COALESCE(' (it had failed: ' || error_code || ')', '')
        FROM requeued
        RETURNING 1
    )
    SELECT count(*) FROM logged
    """
)

_CANCEL = text(
    """
    WITH pending AS (
        SELECT id, status FROM device_change
        WHERE bulk_change_id = :bulk_id AND status IN ('Queued', 'Retry')
        ORDER BY id FOR UPDATE
    ), cancelled AS (
        UPDATE device_change AS dc
        SET status = 'Cancelled', error_code = NULL, error_message = :message,
            completed_at = now(), updated_at = now()
        FROM pending
        WHERE dc.id = pending.id AND dc.status IN ('Queued', 'Retry')
        RETURNING dc.id, pending.status AS was
    ), logged AS (
        INSERT INTO device_change_log (bulk_change_id, device_change_id, step, actor, status, message)
        SELECT :bulk_id, id, 'cancel', :actor, 'Cancelled', :message || ' (it was ' || was || ')'
        FROM cancelled
        RETURNING 1
    )
    SELECT count(*) FROM logged
    """
)


async def retry_failed(
    session: AsyncSession, tenant_id: int, bulk_id: uuid.UUID, actor: str
) -> RetryAccepted:
    """``actor``: who asks (a token's subject), recorded on every audit row it writes."""
    # The row lock serialises retries of one bulk change (a second one finds it PROCESSING).
    bulk = (
        await session.execute(
            select(BulkChange.status, BulkChange.error_reason)
            .where(BulkChange.id == bulk_id, BulkChange.tenant_id == tenant_id)
            .with_for_update()
        )
    ).first()
    if bulk is None:
        raise NotFound(f"Bulk change {bulk_id} does not exist.")
    if bulk.status not in FINISHED:
        raise NotFinished(
            f"Bulk change {bulk_id} is {bulk.status}: only a finished bulk change (PROCESSED or "
            "ERROR) can have its failed devices retried."
        )
    requeued = (
        await session.execute(
            _REQUEUE_FAILED,
            {"bulk_id": bulk_id, "actor": actor, "message": f"retry requested by {actor}"},
        )
    ).scalar_one()
    if requeued == 0:
        raise NoFailedDevices(f"Bulk change {bulk_id} has no Failed device changes to retry.")
    await session.execute(
        update(BulkChange)
        .where(BulkChange.id == bulk_id)
        .values(
            status=c.BulkChangeStatus.PROCESSING.value,
            remaining_count=BulkChange.remaining_count + requeued,
            processed_at=None,
            error_reason=None,
        )
    )
    audit(
        session,
        bulk_change_id=bulk_id,
        device_change_id=None,
        step="retry",
        actor=actor,
        status=c.BulkChangeStatus.PROCESSING.value,
        message=f"retry requested by {actor}: {requeued} failed device changes queued again"
        + (f" (it had ended in error: {bulk.error_reason})" if bulk.error_reason else ""),
    )
    await notify_outbox(session)
    return RetryAccepted(
        BulkChangeId=bulk_id, Status=c.BulkChangeStatus.PROCESSING.value, RequeuedCount=requeued
    )


async def cancel_pending(
    session: AsyncSession, tenant_id: int, bulk_id: uuid.UUID, actor: str
) -> CancelResult:
    """``actor``: who asks (a token's subject), recorded on every audit row it writes."""
    status = await session.scalar(
        select(BulkChange.status).where(BulkChange.id == bulk_id, BulkChange.tenant_id == tenant_id)
    )
    if status is None:
        raise NotFound(f"Bulk change {bulk_id} does not exist.")
    if status in FINISHED:
        raise AlreadyFinished(f"Bulk change {bulk_id} is {status}: nothing left to cancel.")
    message = f"cancelled by {actor}"
    cancelled = (
        await session.execute(_CANCEL, {"bulk_id": bulk_id, "actor": actor, "message": message})
    ).scalar_one()
    if cancelled:
        await count_terminal(session, bulk_id, cancelled)
    running = (
        await session.scalar(
            select(func.count()).where(
                DeviceChange.bulk_change_id == bulk_id, DeviceChange.status.in_(RUNNING)
            )
        )
    ) or 0
    status = (
        await session.scalar(select(BulkChange.status).where(BulkChange.id == bulk_id)) or status
    )
    audit(
        session,
        bulk_change_id=bulk_id,
        device_change_id=None,
        step="cancel",
        actor=actor,
        status=status,
        message=f"cancel requested by {actor}: {cancelled} device changes cancelled, "
        f"{running} already with the carrier left to finish",
    )
    return CancelResult(
        BulkChangeId=bulk_id,
        Status=status,
        CancelledCount=cancelled,
        StillRunningCount=running,
    )
