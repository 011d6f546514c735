from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common.contracts import DeviceChangeStatus
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.logging import bound
from devicebulk_common.wire import (
    BulkChangeAccepted,
    BulkChangeRequest,
    BulkChangeView,
    DeviceChangePage,
)
from devicebulk_intake.bulk_changes import queries, service
from devicebulk_intake.bulk_changes.examples import SUBMIT_DESCRIPTION, SUBMIT_EXAMPLES
from devicebulk_intake.deps import get_session
from devicebulk_intake.errors import (
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    Unprocessable,
    UnsupportedChangeType,
    responses,
)
from devicebulk_intake.tenancy import CurrentTenant, CurrentUser

router = APIRouter(prefix="/api/v1/bulk-changes", tags=["bulk changes"])

Session = Annotated[AsyncSession, Depends(get_session)]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BulkChangeAccepted,
    summary="Submit a bulk change",
    description=SUBMIT_DESCRIPTION,
    responses=responses(Unauthenticated, Unprocessable, UnsupportedChangeType, PayloadTooLarge),
)
async def submit_bulk_change(
    request: Request,
    tenant: CurrentTenant,
    user: CurrentUser,
    body: Annotated[BulkChangeRequest, Body(openapi_examples=SUBMIT_EXAMPLES)],
) -> BulkChangeAccepted:
    async with unit_of_work(request.app.state.sessionmaker) as session:
        accepted = await service.submit(
            session, tenant, user, body, max_devices=request.app.state.settings.intake_max_devices
        )
    with bound(bulk_change_id=str(accepted.BulkChangeId)):
        request.app.state.log.info(
            "bulk change accepted", devices=accepted.DeviceCount, queued=accepted.QueuedCount
        )
    return accepted


@router.get(
    "/{bulk_change_id}",
    response_model=BulkChangeView,
    summary="A bulk change: status, counts by device status, progress",
    responses=responses(Unauthenticated, NotFound),
)
async def get_bulk_change(
    bulk_change_id: uuid.UUID, tenant: CurrentTenant, session: Session
) -> BulkChangeView:
    return await queries.bulk_change_view(session, tenant.id, bulk_change_id)


@router.get(
    "/{bulk_change_id}/devices",
    response_model=DeviceChangePage,
    summary="The devices of a bulk change, page by page",
    responses=responses(Unauthenticated, NotFound),
)
async def list_device_changes(
    bulk_change_id: uuid.UUID,
    tenant: CurrentTenant,
    session: Session,
    status_filter: Annotated[
        DeviceChangeStatus | None, Query(alias="status", description="Only this status.")
    ] = None,
    cursor: Annotated[str | None, Query(description="NextCursor of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeviceChangePage:
    after: int | None = None
    if cursor is not None:
        if not cursor.isdigit():
            raise Unprocessable("cursor must be the NextCursor of a previous page.")
        after = int(cursor)
    return await queries.device_changes_page(
        session, tenant.id, bulk_change_id, status=status_filter, cursor=after, limit=limit
    )
