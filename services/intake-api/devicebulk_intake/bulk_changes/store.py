"""Writing a bulk change: its row (once per idempotency key), one row per device (COPY), and
how it starts: queued (the relay publishes the committed rows), complete already (no device
passed validation), or ERROR (it cannot run at all; its valid devices are Cancelled)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.lifecycle import audit, complete_bulk_change, emit_completed
from devicebulk_common.models import BulkChange
from devicebulk_common.outbox.relay import notify_outbox
from devicebulk_common.wire import BulkChangeAccepted
from devicebulk_intake.bulk_changes.validation import Verdict

WRITES_DISABLED = "WritesDisabled"
# The audit's actor for a step the intake records when the caller named no one.
INTAKE = "intake-api"

_DEVICE_COLUMNS = (
    "bulk_change_id",
    "device_id",
    "iccid",
    "status",
    "params",
    "validation_error",
    "error_code",
    "error_message",
    "attempts",
    "completed_at",
)


async def insert_bulk_change(
    session: AsyncSession,
    *,
    tenant_id: int,
    provider_id: int,
    change_type: c.ChangeType,
    request: dict[str, Any],
    user: str | None,
    notify_email: str | None,
    idempotency_key: str | None,
    verdicts: Sequence[Verdict],
    error_reason: str | None,
) -> uuid.UUID | None:
    """The bulk change's row; None if another request with the same idempotency key got there
    first (a concurrent one waits here until that one commits or rolls back)."""
    passed = sum(v.ok for v in verdicts)
    statement = (
        insert(BulkChange)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            service_provider_id=provider_id,
            change_type=change_type.value,
            status=(c.BulkChangeStatus.ERROR if error_reason else c.BulkChangeStatus.NEW).value,
            request=request,
            created_by=user,
            notify_email=notify_email,
            idempotency_key=idempotency_key,
            device_count=len(verdicts),
            remaining_count=0 if error_reason else passed,
            error_reason=error_reason,
            processed_at=datetime.now(UTC) if error_reason else None,
            # An ERROR bulk change is complete at once: its first completion.
            completion_seq=1 if error_reason else 0,
        )
        .on_conflict_do_nothing(index_elements=[BulkChange.tenant_id, BulkChange.idempotency_key])
        .returning(BulkChange.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def store_devices(
    session: AsyncSession,
    bulk_id: uuid.UUID,
    verdicts: Sequence[Verdict],
    *,
    error_reason: str | None,
    actor: str,
) -> BulkChangeAccepted:
    """One row per device, and the bulk change started. With ``error_reason`` the bulk change
    cannot run (it was stored as ``ERROR``): its valid devices are ``Cancelled`` with that
    reason, nothing is queued, and its completion is announced at once (the report email)."""
    now = datetime.now(UTC)
    passed = sum(v.ok for v in verdicts)
    failed = len(verdicts) - passed
    await _copy_device_changes(session, bulk_id, verdicts, now=now, cancel_reason=error_reason)
    if error_reason is not None:
        audit(
            session,
            bulk_change_id=bulk_id,
            device_change_id=None,
            step="intake:cannot_run",
            actor=actor,
            status=c.BulkChangeStatus.ERROR.value,
            message=f"{error_reason}; {passed} valid device(s) cancelled, nothing sent",
        )
        emit_completed(session, bulk_id, c.BulkChangeStatus.ERROR, now)
        await notify_outbox(session)
        return accepted(bulk_id, c.BulkChangeStatus.ERROR, failed, 0, passed, error_reason)
    if passed:
        await notify_outbox(session)
        return accepted(bulk_id, c.BulkChangeStatus.NEW, failed, passed, 0, None)
    await complete_bulk_change(session, bulk_id)
    return accepted(bulk_id, c.BulkChangeStatus.PROCESSED, failed, 0, 0, None)


def accepted(
    bulk_id: uuid.UUID,
    status: c.BulkChangeStatus,
    validation_failed: int,
    queued: int,
    cancelled: int,
    error_reason: str | None,
) -> BulkChangeAccepted:
    return BulkChangeAccepted(
        BulkChangeId=bulk_id,
        Status=status.value,
        DeviceCount=validation_failed + queued + cancelled,
        QueuedCount=queued,
        ValidationFailedCount=validation_failed,
        CancelledCount=cancelled,
        ErrorReason=error_reason,
    )


async def _copy_device_changes(
    session: AsyncSession,
    bulk_id: uuid.UUID,
    verdicts: Sequence[Verdict],
    *,
    now: datetime,
    cancel_reason: str | None,
) -> None:
    """COPY the device rows in: 100,000 rows in well under a second."""
    records: list[tuple[Any, ...]] = []
    encoded: dict[int, str] = {}  # devices that share a params dict share its JSON
    for v in verdicts:
        params = None
        if v.ok and (params := encoded.get(id(v.params))) is None:
            params = encoded[id(v.params)] = json.dumps(v.params)
        code = message = completed = None
        if not v.ok:
            status, completed = c.DeviceChangeStatus.VALIDATION_FAILED, now
        elif cancel_reason is None:
            status = c.DeviceChangeStatus.QUEUED
        else:
            status, completed = c.DeviceChangeStatus.CANCELLED, now
            code, message = WRITES_DISABLED, cancel_reason
        records.append(
            (
                bulk_id,
                v.device_id,
                v.iccid,
                status.value,
                params,
                v.error,
                code,
                message,
                0,
                completed,
            )
        )
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table("device_change", records=records, columns=_DEVICE_COLUMNS)
