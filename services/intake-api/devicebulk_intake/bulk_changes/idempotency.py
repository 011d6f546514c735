"""``Idempotency-Key``: a submit repeated with the same key (per tenant) gets the first answer
instead of a second bulk change; the same key with another request is a 409 problem.

The key is stored on the bulk change (unique per tenant), so two concurrent submits with one
key cannot both create one: the second waits on the first's insert and then finds its row.
The request is compared with the stored one (the same JSON the submit stored), and the first
answer is rebuilt from the stored rows, which say exactly what it said."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.models import BulkChange, DeviceChange
from devicebulk_common.wire import BulkChangeAccepted
from devicebulk_intake.bulk_changes.store import WRITES_DISABLED, accepted
from devicebulk_intake.errors import IdempotencyKeyReused

MAX_KEY_LENGTH = 200


async def find(session: AsyncSession, tenant_id: int, key: str) -> BulkChange | None:
    return (
        await session.execute(
            select(BulkChange).where(
                BulkChange.tenant_id == tenant_id, BulkChange.idempotency_key == key
            )
        )
    ).scalar_one_or_none()


async def replay(
    session: AsyncSession, bulk: BulkChange, request: dict[str, Any]
) -> BulkChangeAccepted:
    """The first answer to ``bulk``'s key, if ``request`` is the request it answered."""
    if bulk.request != request:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {bulk.idempotency_key!r} was used for another request "
            f"(bulk change {bulk.id}); use a new key for a new request.",
            BulkChangeId=str(bulk.id),
        )
    rows = await session.execute(
        select(DeviceChange.status, DeviceChange.error_code, func.count())
        .where(
            DeviceChange.bulk_change_id == bulk.id,
            DeviceChange.status.in_(
                [c.DeviceChangeStatus.VALIDATION_FAILED.value, c.DeviceChangeStatus.CANCELLED.value]
            ),
        )
        .group_by(DeviceChange.status, DeviceChange.error_code)
    )
    failed = cancelled_at_intake = 0
    for status, error_code, n in rows:
        if status == c.DeviceChangeStatus.VALIDATION_FAILED.value:
            failed += n
        elif error_code == WRITES_DISABLED:
            cancelled_at_intake += n
    # Refused at intake (writes disabled): nothing was queued. (A bulk change that ran into
    # ERROR later, at the worker, was queued first.)
    if bulk.status == c.BulkChangeStatus.ERROR.value and (
        failed + cancelled_at_intake == bulk.device_count
    ):
        return accepted(
            bulk.id, c.BulkChangeStatus.ERROR, failed, 0, cancelled_at_intake, bulk.error_reason
        )
    queued = bulk.device_count - failed
    status = c.BulkChangeStatus.NEW if queued else c.BulkChangeStatus.PROCESSED
    return accepted(bulk.id, status, failed, queued, 0, None)
