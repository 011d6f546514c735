"""What operators read: a bulk change with its progress, and its devices page by page."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.models import BulkChange, Device, DeviceChange
from devicebulk_common.wire import BulkChangeView, DeviceChangePage, DeviceChangeView, ProgressView
from devicebulk_intake.errors import NotFound


async def get_bulk_change(session: AsyncSession, tenant_id: int, bulk_id: uuid.UUID) -> BulkChange:
    bulk = await session.get(BulkChange, bulk_id)
    if bulk is None or bulk.tenant_id != tenant_id:
        raise NotFound(f"Bulk change {bulk_id} does not exist.")
    return bulk


def change_type_name(value: int) -> str:
    try:
        return "".join(w.capitalize() for w in c.ChangeType(value).name.split("_"))
    except ValueError:
        return str(value)


async def bulk_change_view(
    session: AsyncSession, tenant_id: int, bulk_id: uuid.UUID
) -> BulkChangeView:
    bulk = await get_bulk_change(session, tenant_id, bulk_id)
    rows = await session.execute(
        select(DeviceChange.status, func.count())
        .where(DeviceChange.bulk_change_id == bulk_id)
        .group_by(DeviceChange.status)
    )
    counts = {status: n for status, n in rows}
    done = sum(n for s, n in counts.items() if c.DeviceChangeStatus(s).is_terminal)
    total = bulk.device_count
    return BulkChangeView(
        BulkChangeId=bulk.id,
        ServiceProviderId=bulk.service_provider_id,
        ChangeType=bulk.change_type,
        ChangeTypeName=change_type_name(bulk.change_type),
        Status=bulk.status,
        ErrorReason=bulk.error_reason,
        CreatedBy=bulk.created_by,
        CreatedAt=bulk.created_at,
        ProcessedAt=bulk.processed_at,
        DeviceCount=total,
        Counts=counts,
        Progress=ProgressView(
            Completed=done, Total=total, Percent=round(100.0 * done / total, 1) if total else 100.0
        ),
    )


async def device_changes_page(
    session: AsyncSession,
    tenant_id: int,
    bulk_id: uuid.UUID,
    *,
    status: c.DeviceChangeStatus | None,
    cursor: int | None,
    limit: int,
    iccid: str | None = None,
    error_code: str | None = None,
) -> DeviceChangePage:
    """Filters combine; each narrows the bulk change's rows (``ix_device_change_bulk_id``)."""
    await get_bulk_change(session, tenant_id, bulk_id)
    query = (
        select(DeviceChange, Device.msisdn)
        .outerjoin(Device, Device.id == DeviceChange.device_id)
        .where(DeviceChange.bulk_change_id == bulk_id)
        .order_by(DeviceChange.id)
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(DeviceChange.status == status.value)
    if iccid is not None:
        query = query.where(DeviceChange.iccid == iccid)
    if error_code is not None:
        query = query.where(DeviceChange.error_code == error_code)
    if cursor is not None:
        query = query.where(DeviceChange.id > cursor)
    rows = (await session.execute(query)).all()
    items = [
        DeviceChangeView(
            DeviceChangeId=dc.id,
            ICCID=dc.iccid,
            Status=dc.status,
            ValidationError=dc.validation_error,
            ErrorCode=dc.error_code,
            ErrorMessage=dc.error_message,
            CarrierRequestId=dc.carrier_request_id,
            Attempts=dc.attempts,
            MSISDN=msisdn,
            UpdatedAt=dc.updated_at,
            CompletedAt=dc.completed_at,
        )
        for dc, msisdn in rows[:limit]
    ]
    next_cursor = str(items[-1].DeviceChangeId) if len(rows) > limit else None
    return DeviceChangePage(Items=items, NextCursor=next_cursor)
