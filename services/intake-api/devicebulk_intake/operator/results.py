"""A bulk change's per-device results as CSV, streamed.

A server-side cursor feeds the rows in partitions (``yield_per``); each partition becomes one
chunk of the response, so a 100,000-device bulk change never sits in memory whole, on either
side of the database connection. The columns are those of the completion email's attachment.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.models import Device, DeviceChange

HEADER = (
    "iccid",
    "status",
    "error_code",
    "error_message",
    "msisdn",
    "carrier_request_id",
    "attempts",
    "completed_at",
)
ROWS_PER_CHUNK = 2000

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def safe_cell(value: str | None) -> str:
    """Text a spreadsheet shows as text: a leading quote before a formula-like value, unless the
    value is just a number (an MSISDN such as +15551234567 stays as it is)."""
    if value is None:
        return ""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def results_query(bulk_id: uuid.UUID) -> Any:
    return (
        select(
            DeviceChange.iccid,
            DeviceChange.status,
            DeviceChange.error_code,
            func.coalesce(DeviceChange.error_message, DeviceChange.validation_error),
            func.coalesce(Device.msisdn, Device.mdn),
            DeviceChange.carrier_request_id,
            DeviceChange.attempts,
            DeviceChange.completed_at,
        )
        .outerjoin(Device, Device.id == DeviceChange.device_id)
        .where(DeviceChange.bulk_change_id == bulk_id)
        .order_by(DeviceChange.id)
    )


def render(rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for iccid, status, code, message, msisdn, request_id, attempts, completed_at in rows:
        writer.writerow(
            (
                safe_cell(iccid),
                safe_cell(status),
                safe_cell(code),
                safe_cell(message),
                safe_cell(msisdn),
                safe_cell(request_id),
                attempts,
                _when(completed_at),
            )
        )
    return buffer.getvalue().encode()


async def stream_results(
    sessionmaker: async_sessionmaker[AsyncSession],
    bulk_id: uuid.UUID,
    *,
    rows_per_chunk: int = ROWS_PER_CHUNK,
) -> AsyncIterator[bytes]:
    """The header, then one chunk per ``rows_per_chunk`` device changes, in submission order.

    Opens its own session: the response streams after the request's own unit of work."""
    yield render_header()
    async with sessionmaker() as session, session.begin():
        result = await session.stream(
            results_query(bulk_id).execution_options(yield_per=rows_per_chunk)
        )
        async for partition in result.partitions():
            yield render(partition)


def render_header() -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(HEADER)
    return buffer.getvalue().encode()
