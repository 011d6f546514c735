"""Reading bulk changes: one with its progress, and its devices page by page. (Submitting
is in ``submit_router``.)"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common.contracts import DeviceChangeStatus
from devicebulk_common.models import bounds
from devicebulk_common.wire import BulkChangeView, DeviceChangePage
from devicebulk_intake.bulk_changes import queries
from devicebulk_intake.deps import get_session
from devicebulk_intake.errors import (
    InvalidCursor,
    NotFound,
    Unauthenticated,
    responses,
)
from devicebulk_intake.operator.cursors import decode_device_cursor
from devicebulk_intake.tenancy import ReadCaller

router = APIRouter(prefix="/api/v1/bulk-changes", tags=["bulk changes"])

Session = Annotated[AsyncSession, Depends(get_session)]


@router.get(
    "/{bulk_change_id}",
    response_model=BulkChangeView,
    summary="A bulk change: status, counts by device status, progress",
    description="Status is NEW until its first device is sent, PROCESSING while devices run, "
    "PROCESSED once every device change has ended (Counts say how), ERROR if it could not run "
    "at all. Another tenant's bulk change is a `404`.",
    responses=responses(Unauthenticated, NotFound),
)
async def get_bulk_change(
    bulk_change_id: uuid.UUID, caller: ReadCaller, session: Session
) -> BulkChangeView:
    return await queries.bulk_change_view(session, caller.tenant.id, bulk_change_id)


@router.get(
    "/{bulk_change_id}/devices",
    response_model=DeviceChangePage,
    summary="The devices of a bulk change, page by page",
    description="Each device's result, in the order the devices were submitted. Filter by "
    "status, ICCID and error code (any combination); pages follow `NextCursor`. A device's "
    "steps are at `/devices/{DeviceChangeId}/audit`.",
    responses=responses(Unauthenticated, NotFound, InvalidCursor),
)
async def list_device_changes(
    bulk_change_id: uuid.UUID,
    caller: ReadCaller,
    session: Session,
    status_filter: Annotated[
        DeviceChangeStatus | None, Query(alias="status", description="Only this status.")
    ] = None,
    iccid: Annotated[
        bounds.CleanText | None,
        Query(max_length=40, description="Only this ICCID, as it was submitted."),
    ] = None,
    error_code: Annotated[
        bounds.CleanText | None,
        Query(max_length=200, description="Only this error code (the `ErrorCode` field)."),
    ] = None,
    cursor: Annotated[
        bounds.CleanText | None, Query(description="NextCursor of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeviceChangePage:
    after = None if cursor is None else decode_device_cursor(cursor)
    return await queries.device_changes_page(
        session,
        caller.tenant.id,
        bulk_change_id,
        status=status_filter,
        iccid=iccid,
        error_code=error_code,
        cursor=after,
        limit=limit,
    )
