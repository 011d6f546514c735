"""What the completion email says, read from the database: the bulk change, its counts by device
change status, the failed devices with their reasons, and one CSV row per device change.

PostgreSQL writes the CSV (``COPY ... TO STDOUT``) and streams it into one buffer, so a
100,000-device bulk change costs no per-row Python and no ORM objects, only the CSV bytes.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common.contracts import ChangeType, DeviceChangeStatus
from devicebulk_common.models import BulkChange, DeviceChange, Tenant

# The email body lists at most this many failed devices; the CSV has them all.
FAILED_LISTED = 500
FAILED_STATUSES = (DeviceChangeStatus.FAILED.value, DeviceChangeStatus.VALIDATION_FAILED.value)

# The portal's names for the change types.
CHANGE_NAMES = {
    ChangeType.CUSTOMER_ASSIGNMENT: "CustomerAssignment",
    ChangeType.STATUS_UPDATE: "StatusUpdate",
    ChangeType.CUSTOMER_RATE_PLAN_CHANGE: "CustomerRatePlanChange",
    ChangeType.ARCHIVAL: "Archival",
    ChangeType.EDIT_USERNAME: "EditUsername",
    ChangeType.CARRIER_RATE_PLAN_CHANGE: "CarrierRatePlanChange",
    ChangeType.CHANGE_ICCID_OR_IMEI: "ChangeICCIDorIMEI",
    ChangeType.DEVICE_DELETION: "DeviceDeletion",
}
# The one request field that says what the change was, where there is one: (payload key, field).
CHANGE_DETAIL = {
    ChangeType.CUSTOMER_ASSIGNMENT: ("RevService", "RevCustomerId"),
    ChangeType.STATUS_UPDATE: ("StatusUpdate", "TargetStatus"),
    ChangeType.CUSTOMER_RATE_PLAN_CHANGE: ("CustomerRatePlanUpdate", "CustomerRatePlanId"),
    ChangeType.EDIT_USERNAME: ("Username", "NewUsername"),
    ChangeType.CARRIER_RATE_PLAN_CHANGE: ("CarrierRatePlanUpdate", "CarrierRatePlan"),
}


@dataclass(frozen=True)
class Target:
    """The bulk change an event is about, and where its email could go."""

    bulk_change: BulkChange
    tenant_email: str | None


@dataclass(frozen=True)
class FailedDevice:
    iccid: str
    status: str
    error_code: str | None
    reason: str | None


@dataclass(frozen=True)
class Report:
    bulk_change_id: uuid.UUID
    change: str
    status: str
    error_reason: str | None
    service_provider_id: int
    created_by: str | None
    created_at: datetime
    processed_at: datetime | None
    device_count: int
    counts: Mapping[str, int]
    failed: list[FailedDevice] = field(default_factory=list)

    @property
    def succeeded(self) -> int:
        return self.counts.get(DeviceChangeStatus.SUCCESS.value, 0)

    @property
    def failed_total(self) -> int:
        return sum(self.counts.get(s, 0) for s in FAILED_STATUSES)

    @property
    def validation_failed(self) -> int:
        return self.counts.get(DeviceChangeStatus.VALIDATION_FAILED.value, 0)

    @property
    def cancelled(self) -> int:
        return self.counts.get(DeviceChangeStatus.CANCELLED.value, 0)

    @property
    def unfinished(self) -> int:
        """Device changes not in a terminal state (none, once a bulk change is processed)."""
        return sum(n for s, n in self.counts.items() if not _is_terminal(s))

    @property
    def failed_not_listed(self) -> int:
        return self.failed_total - len(self.failed)


def _is_terminal(status: str) -> bool:
    try:
        return DeviceChangeStatus(status).is_terminal
    except ValueError:
        return False


def describe_change(change_type: int, request: Mapping[str, Any] | None) -> str:
    """``StatusUpdate: Active``, ``Archival``, ``ChangeType 42`` for a number we do not know."""
    try:
        kind = ChangeType(change_type)
    except ValueError:
        return f"ChangeType {change_type}"
    name = CHANGE_NAMES[kind]
    where = CHANGE_DETAIL.get(kind)
    payload = (request or {}).get(where[0]) if where else None
    detail = payload.get(where[1]) if where and isinstance(payload, Mapping) else None
    return f"{name}: {detail}" if detail not in (None, "") else name


async def load_target(session: AsyncSession, bulk_change_id: uuid.UUID) -> Target | None:
    row = (
        await session.execute(
            select(BulkChange, Tenant.notification_email)
            .join(Tenant, Tenant.id == BulkChange.tenant_id)
            .where(BulkChange.id == bulk_change_id)
        )
    ).one_or_none()
    return None if row is None else Target(bulk_change=row[0], tenant_email=row[1])


async def build_report(session: AsyncSession, bulk_change: BulkChange) -> Report:
    counts = {
        status: n
        for status, n in await session.execute(
            select(DeviceChange.status, func.count())
            .where(DeviceChange.bulk_change_id == bulk_change.id)
            .group_by(DeviceChange.status)
        )
    }
    failed_rows = await session.execute(
        select(
            DeviceChange.iccid,
            DeviceChange.status,
            DeviceChange.error_code,
            func.coalesce(DeviceChange.error_message, DeviceChange.validation_error),
        )
        .where(
            DeviceChange.bulk_change_id == bulk_change.id,
            DeviceChange.status.in_(FAILED_STATUSES),
        )
        .order_by(DeviceChange.id)
        .limit(FAILED_LISTED)
    )
    return Report(
        bulk_change_id=bulk_change.id,
        change=describe_change(bulk_change.change_type, bulk_change.request),
        status=bulk_change.status,
        error_reason=bulk_change.error_reason,
        service_provider_id=bulk_change.service_provider_id,
        created_by=bulk_change.created_by,
        created_at=bulk_change.created_at,
        processed_at=bulk_change.processed_at,
        device_count=bulk_change.device_count,
        counts=counts,
        failed=[FailedDevice(*row) for row in failed_rows],
    )


def _safe(column: str) -> str:
    """SQL for a text cell a spreadsheet would not run as a formula (CSV injection): a value
    starting with = + - @ tab or CR gets a leading quote, unless it is just a number."""
    return (
        f"CASE WHEN {column} ~ '^[-=+@\\t\\r]' AND {column} !~ '^[+-]?[0-9]+(\\.[0-9]+)?$' "
        f"THEN '''' || {column} ELSE {column} END"
    )


# PostgreSQL writes the CSV itself (COPY ... TO STDOUT), straight into our buffer as it streams:
# no per-row Python for 100,000 rows. The aliases are the header:
# iccid,status,error_code,error_message,msisdn,carrier_request_id,attempts,completed_at
CSV_QUERY = f"""
SELECT
    {_safe("dc.iccid")} AS iccid,
    dc.status AS status,
    {_safe("dc.error_code")} AS error_code,
    {_safe("COALESCE(dc.error_message, dc.validation_error)")} AS error_message,
    {_safe("COALESCE(d.msisdn, d.mdn)")} AS msisdn,
    {_safe("dc.carrier_request_id")} AS carrier_request_id,
    dc.attempts AS attempts,
    to_char(dc.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS completed_at
FROM device_change dc
LEFT JOIN device d ON d.id = dc.device_id
WHERE dc.bulk_change_id = $1
ORDER BY dc.id
"""  # noqa: S608 - built from constants only; the bulk change id is a bind parameter


async def build_csv(session: AsyncSession, bulk_change_id: uuid.UUID) -> bytes:
    """One row per device change, in the order they were submitted (UTF-8, with a header).

    Runs on the session's connection, so inside its transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    buffer = io.BytesIO()

    async def write(chunk: bytes) -> None:
        buffer.write(chunk)

    await driver.copy_from_query(CSV_QUERY, bulk_change_id, output=write, format="csv", header=True)
    return buffer.getvalue()
