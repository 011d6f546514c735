"""What operators read: their bulk changes (filtered, newest first) and the audit trail.

Both lists page by keyset, never by offset, so a page costs the same however deep it is and
rows written meanwhile neither repeat nor go missing: bulk changes by (created_at, id)
descending, served by ``ix_bulk_change_tenant_created``; audit entries by id, served by
``ix_device_change_log_bulk_id`` (bulk_change_id, id).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.models import BulkChange, DeviceChange, DeviceChangeLog, bounds
from devicebulk_common.wire import ProgressView
from devicebulk_intake.bulk_changes.queries import change_type_name, get_bulk_change
from devicebulk_intake.errors import NotFound, Unprocessable
from devicebulk_intake.operator.cursors import CreatedCursor, encode_after
from devicebulk_intake.operator.schemas import (
    AuditEntry,
    AuditPage,
    BulkChangePage,
    BulkChangeSummary,
)


@dataclass(frozen=True)
class BulkChangeFilters:
    status: c.BulkChangeStatus | None = None
    change_type: c.ChangeType | None = None
    service_provider_id: int | None = None
    created_by: str | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive

    def __post_init__(self) -> None:
        if self.created_from and self.created_to and self.created_from >= self.created_to:
            raise Unprocessable("created_from must be before created_to.")


def _aware(value: datetime) -> datetime:
    """A time without a zone is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# Never the stored request: it lists every device (100,000 ICCIDs for the largest).
_SUMMARY_COLUMNS = (
    BulkChange.id,
    BulkChange.service_provider_id,
    BulkChange.change_type,
    BulkChange.status,
    BulkChange.error_reason,
    BulkChange.created_by,
    BulkChange.created_at,
    BulkChange.processed_at,
    BulkChange.device_count,
    BulkChange.remaining_count,
    BulkChange.completion_seq,
)


def bulk_changes_query(
    tenant_id: int, filters: BulkChangeFilters, *, after: CreatedCursor | None, limit: int
) -> Select[*tuple[Any, ...]]:
    query = select(*_SUMMARY_COLUMNS).where(BulkChange.tenant_id == tenant_id)
    if filters.status is not None:
        query = query.where(BulkChange.status == filters.status.value)
    if filters.change_type is not None:
        query = query.where(BulkChange.change_type == filters.change_type.value)
    if filters.service_provider_id is not None:
        query = query.where(BulkChange.service_provider_id == filters.service_provider_id)
    if filters.created_by is not None:
        query = query.where(func.lower(BulkChange.created_by) == filters.created_by.lower())
    if filters.created_from is not None:
        query = query.where(BulkChange.created_at >= _aware(filters.created_from))
    if filters.created_to is not None:
        query = query.where(BulkChange.created_at < _aware(filters.created_to))
    if after is not None:
        # (created_at, id) < (after): spelled out so the created_at bound is an index condition.
        query = query.where(
            BulkChange.created_at <= after.created_at,
            or_(BulkChange.created_at < after.created_at, BulkChange.id < after.id),
        )
    return query.order_by(BulkChange.created_at.desc(), BulkChange.id.desc()).limit(limit + 1)


async def bulk_changes_page(
    session: AsyncSession,
    tenant_id: int,
    filters: BulkChangeFilters,
    *,
    after: CreatedCursor | None,
    limit: int,
) -> BulkChangePage:
    rows = (
        await session.execute(bulk_changes_query(tenant_id, filters, after=after, limit=limit))
    ).all()
    items = [
        BulkChangeSummary(
            BulkChangeId=r.id,
            ServiceProviderId=r.service_provider_id,
            ChangeType=r.change_type,
            ChangeTypeName=change_type_name(r.change_type),
            Status=r.status,
            ErrorReason=r.error_reason,
            CreatedBy=r.created_by,
            CreatedAt=r.created_at,
            ProcessedAt=r.processed_at,
            DeviceCount=r.device_count,
            Completions=r.completion_seq,
            Progress=_progress(r.device_count, r.remaining_count),
        )
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = CreatedCursor(last.created_at, last.id).encode()
    return BulkChangePage(Items=items, NextCursor=next_cursor)


def _progress(total: int, remaining: int) -> ProgressView:
    """``remaining_count`` is the number of device changes not yet terminal."""
    done = max(total - remaining, 0)
    return ProgressView(
        Completed=done, Total=total, Percent=round(100.0 * done / total, 1) if total else 100.0
    )


async def audit_page(
    session: AsyncSession,
    tenant_id: int,
    bulk_id: uuid.UUID,
    *,
    device_change_id: int | None = None,
    after: int | None,
    limit: int,
) -> AuditPage:
    """The trail of a bulk change (every device's steps and its own), or of one device change."""
    await get_bulk_change(session, tenant_id, bulk_id)
    query = select(DeviceChangeLog).where(DeviceChangeLog.bulk_change_id == bulk_id)
    if device_change_id is not None:
        await _check_device_change(session, bulk_id, device_change_id)
        query = query.where(DeviceChangeLog.device_change_id == device_change_id)
    if after is not None:
        query = query.where(DeviceChangeLog.id > after)
    rows = (await session.scalars(query.order_by(DeviceChangeLog.id).limit(limit + 1))).all()
    items = [
        AuditEntry(
            AuditEntryId=log.id,
            BulkChangeId=log.bulk_change_id,
            DeviceChangeId=log.device_change_id,
            Step=log.step,
            Actor=log.actor,
            Status=log.status,
            Message=log.message,
            HttpMethod=log.http_method,
            HttpUrl=log.http_url,
            HttpStatus=log.http_status,
            RequestText=log.request_text,
            ResponseText=log.response_text,
            DurationMs=log.duration_ms,
            CreatedAt=log.created_at,
        )
        for log in rows[:limit]
    ]
    next_cursor = encode_after(items[-1].AuditEntryId) if len(rows) > limit else None
    return AuditPage(Items=items, NextCursor=next_cursor)


async def _check_device_change(
    session: AsyncSession, bulk_id: uuid.UUID, device_change_id: int
) -> None:
    if not 1 <= device_change_id <= bounds.INT8_MAX:  # no such id can exist
        raise NotFound(f"Device change {device_change_id} of bulk change {bulk_id} does not exist.")
    found = await session.scalar(
        select(DeviceChange.id).where(
            DeviceChange.id == device_change_id, DeviceChange.bulk_change_id == bulk_id
        )
    )
    if found is None:
        raise NotFound(f"Device change {device_change_id} of bulk change {bulk_id} does not exist.")
