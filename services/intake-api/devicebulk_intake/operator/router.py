"""The operator's routes: list bulk changes, read the audit trail, download the results, retry
the failed devices, cancel what has not run. A tenant only ever sees its own bulk changes: any
other id is a 404."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.logging import bound
from devicebulk_common.models import bounds
from devicebulk_intake.bulk_changes.queries import get_bulk_change
from devicebulk_intake.deps import get_session
from devicebulk_intake.errors import (
    InvalidCursor,
    InvalidState,
    NotFound,
    Unauthenticated,
    responses,
)
from devicebulk_intake.operator import actions, queries
from devicebulk_intake.operator.cursors import CreatedCursor, decode_after
from devicebulk_intake.operator.results import stream_results
from devicebulk_intake.operator.schemas import (
    AuditPage,
    BulkChangePage,
    CancelResult,
    RetryAccepted,
)
from devicebulk_intake.tenancy import OperateCaller, ReadCaller

router = APIRouter(prefix="/api/v1/bulk-changes", tags=["bulk changes"])

Session = Annotated[AsyncSession, Depends(get_session)]
Cursor = Annotated[
    bounds.CleanText | None,
    Query(description="NextCursor of the previous page; omit for the first page."),
]
AuditLimit = Annotated[int, Query(ge=1, le=200, description="Entries a page (1 to 200).")]


def bulk_change_filters(
    status_filter: Annotated[
        c.BulkChangeStatus | None, Query(alias="status", description="Only this status.")
    ] = None,
    change_type: Annotated[
        c.ChangeType | None, Query(description="Only this ChangeType (the portal's number).")
    ] = None,
    service_provider_id: Annotated[
        int | None,
        Query(
            ge=bounds.ID_MIN,
            le=bounds.ID_MAX,
            description="Only this carrier account (the portal's id).",
        ),
    ] = None,
    created_by: Annotated[
        bounds.CleanText | None,
        Query(
            max_length=bounds.USER_EMAIL_MAX,
            description="Only those created by this caller: the token's subject (any case).",
        ),
    ] = None,
    created_from: Annotated[
        datetime | None,
        Query(description="Created at or after this time (ISO 8601; UTC if no zone is given)."),
    ] = None,
    created_to: Annotated[
        datetime | None,
        Query(description="Created before this time (ISO 8601; UTC if no zone is given)."),
    ] = None,
) -> queries.BulkChangeFilters:
    return queries.BulkChangeFilters(
        status=status_filter,
        change_type=change_type,
        service_provider_id=service_provider_id,
        created_by=created_by,
        created_from=created_from,
        created_to=created_to,
    )


@router.get(
    "",
    response_model=BulkChangePage,
    summary="List the tenant's bulk changes",
    description="Newest first, filtered by any combination of the parameters. Pages follow "
    "`NextCursor`, an opaque keyset cursor: pages neither repeat nor skip a bulk change, even "
    "while new ones are submitted. Keep the same filters while following a cursor. Progress "
    "here counts finished device changes; counts by device status are on the bulk change's "
    "own page.",
    responses=responses(Unauthenticated, InvalidCursor),
)
async def list_bulk_changes(
    caller: ReadCaller,
    session: Session,
    filters: Annotated[queries.BulkChangeFilters, Depends(bulk_change_filters)],
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Bulk changes a page.")] = 50,
) -> BulkChangePage:
    after = CreatedCursor.decode(cursor) if cursor is not None else None
    return await queries.bulk_changes_page(
        session, caller.tenant.id, filters, after=after, limit=limit
    )


@router.get(
    "/{bulk_change_id}/audit",
    response_model=AuditPage,
    summary="The audit trail of a bulk change",
    description="Every step of every device change, and the steps about the bulk change as a "
    "whole (retry, cancel), oldest first: who or what did it, the status it led to, and the "
    "carrier's request and response (secrets removed). Pages follow `NextCursor`.",
    responses=responses(Unauthenticated, NotFound, InvalidCursor),
)
async def bulk_change_audit(
    bulk_change_id: uuid.UUID,
    caller: ReadCaller,
    session: Session,
    cursor: Cursor = None,
    limit: AuditLimit = 50,
) -> AuditPage:
    after = decode_after(cursor) if cursor is not None else None
    return await queries.audit_page(
        session, caller.tenant.id, bulk_change_id, after=after, limit=limit
    )


@router.get(
    "/{bulk_change_id}/devices/{device_change_id}/audit",
    response_model=AuditPage,
    summary="The audit trail of one device change",
    description="Why device X failed: each attempt, each carrier request and response, each "
    "callback, each retry or cancel, oldest first. `device_change_id` is a `DeviceChangeId` "
    "from the bulk change's devices.",
    responses=responses(Unauthenticated, NotFound, InvalidCursor),
)
async def device_change_audit(
    bulk_change_id: uuid.UUID,
    device_change_id: int,
    caller: ReadCaller,
    session: Session,
    cursor: Cursor = None,
    limit: AuditLimit = 50,
) -> AuditPage:
    after = decode_after(cursor) if cursor is not None else None
    return await queries.audit_page(
        session,
        caller.tenant.id,
        bulk_change_id,
        device_change_id=device_change_id,
        after=after,
        limit=limit,
    )


_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "UTF-8 CSV with a header row: iccid, status, error_code, error_message, "
        "msisdn, carrier_request_id, attempts, completed_at (ISO 8601, UTC).",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/{bulk_change_id}/results.csv",
    response_class=StreamingResponse,
    summary="Every device's result as CSV",
    description="One row per device change, in the order the devices were submitted; the same "
    "columns as the completion email's attachment. Streamed, so it starts at once even for "
    "100,000 devices. Text that a spreadsheet would run as a formula (starting with = + - @) "
    "is prefixed with a single quote.",
    responses=_CSV_RESPONSE | responses(Unauthenticated, NotFound),
)
async def bulk_change_results_csv(
    request: Request, bulk_change_id: uuid.UUID, caller: ReadCaller, session: Session
) -> StreamingResponse:
    await get_bulk_change(session, caller.tenant.id, bulk_change_id)
    return StreamingResponse(
        stream_results(request.app.state.sessionmaker, bulk_change_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="bulk-change-{bulk_change_id}.csv"'},
    )


@router.post(
    "/{bulk_change_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RetryAccepted,
    summary="Retry the failed devices of a finished bulk change",
    description="For a bulk change that has finished (PROCESSED or ERROR): its `Failed` device "
    "changes are queued again (attempts and error cleared; the audit trail keeps them) and the "
    "bulk change is PROCESSING again. When they have all ended it completes once more and a "
    "second report e-mail goes out. Devices that failed validation are not retried: submit "
    "them again. `409` with type `bulk-change-not-finished` while it is still running, "
    "`no-failed-devices` when there is nothing to retry.",
    responses=responses(Unauthenticated, NotFound, InvalidState),
)
async def retry_failed_devices(
    request: Request, bulk_change_id: uuid.UUID, caller: OperateCaller
) -> RetryAccepted:
    with bound(bulk_change_id=str(bulk_change_id)):
        async with unit_of_work(request.app.state.sessionmaker) as session:
            accepted = await actions.retry_failed(
                session, caller.tenant.id, bulk_change_id, caller.actor
            )
        request.app.state.log.info(
            "failed devices requeued", requeued=accepted.RequeuedCount, user=caller.subject
        )
    return accepted


@router.post(
    "/{bulk_change_id}/cancel",
    response_model=CancelResult,
    summary="Cancel the devices of a bulk change that have not run yet",
    description="Device changes still `Queued` or waiting for a retry (`Retry`) become "
    "`Cancelled`; those already with the carrier (`Processing`, `AwaitingCallback`) finish on "
    "their own. The answer says how many were cancelled. When nothing is left running the bulk "
    "change is PROCESSED at once and its report e-mail goes out. `409` with type "
    "`bulk-change-finished` once it has finished.",
    responses=responses(Unauthenticated, NotFound, InvalidState),
)
async def cancel_bulk_change(
    request: Request, bulk_change_id: uuid.UUID, caller: OperateCaller
) -> CancelResult:
    with bound(bulk_change_id=str(bulk_change_id)):
        async with unit_of_work(request.app.state.sessionmaker) as session:
            result = await actions.cancel_pending(
                session, caller.tenant.id, bulk_change_id, caller.actor
            )
        request.app.state.log.info(
            "bulk change cancelled",
            cancelled=result.CancelledCount,
            still_running=result.StillRunningCount,
            user=caller.subject,
        )
    return result
