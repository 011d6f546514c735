"""Submitting bulk changes: as JSON, as a CSV upload, or as a dry run that stores nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Request, Response, status

from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.logging import bound
from devicebulk_common.wire import BulkChangeAccepted, BulkChangeRequest, ValidationReport
from devicebulk_intake.bulk_changes import csv_upload, service
from devicebulk_intake.bulk_changes.examples import (
    CSV_DESCRIPTION,
    CSV_EXAMPLES,
    SUBMIT_DESCRIPTION,
    SUBMIT_EXAMPLES,
    VALIDATE_DESCRIPTION,
    problem_responses,
)
from devicebulk_intake.bulk_changes.idempotency import MAX_KEY_LENGTH
from devicebulk_intake.errors import (
    IdempotencyKeyReused,
    InvalidCsv,
    PayloadTooLarge,
    TooManyRequests,
    Unauthenticated,
    Unprocessable,
    UnsupportedChangeType,
    UnsupportedMediaType,
)
from devicebulk_intake.tenancy import Caller, WriteCaller

router = APIRouter(prefix="/api/v1/bulk-changes", tags=["bulk changes"])

REPLAYED_HEADER = "Idempotent-Replayed"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="Makes the submit safe to repeat: a second submit with the same key (for "
        "this tenant) and the same request answers what the first answered (same "
        "`BulkChangeId`, `202`, header `Idempotent-Replayed: true`) and creates nothing; the "
        "same key with another request is a `409` problem.",
    ),
]

_SUBMIT_ERRORS = problem_responses(
    Unauthenticated,
    Unprocessable,
    UnsupportedChangeType,
    PayloadTooLarge,
    IdempotencyKeyReused,
    TooManyRequests,
)


async def _submit(
    request: Request,
    response: Response,
    caller: Caller,
    body: BulkChangeRequest,
    idempotency_key: str | None,
) -> BulkChangeAccepted:
    settings = request.app.state.settings
    async with unit_of_work(request.app.state.sessionmaker) as session:
        submitted = await service.submit(
            session,
            caller.tenant,
            caller.subject,
            body,
            max_devices=settings.intake_max_devices,
            idempotency_key=idempotency_key,
            notify_email=caller.email,
            quota=service.Quota(
                submits_per_minute=settings.intake_tenant_submits_per_minute,
                max_devices_in_flight=settings.intake_tenant_max_devices_in_flight,
            ),
        )
    answer = submitted.answer
    with bound(bulk_change_id=str(answer.BulkChangeId)):
        if submitted.replayed:
            response.headers[REPLAYED_HEADER] = "true"
            request.app.state.log.info("bulk change submit replayed", key=idempotency_key)
        else:
            request.app.state.log.info(
                "bulk change accepted",
                change_type=body.ChangeType,
                status=answer.Status,
                devices=answer.DeviceCount,
                queued=answer.QueuedCount,
            )
    return answer


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BulkChangeAccepted,
    response_model_exclude_none=True,
    summary="Submit a bulk change",
    description=SUBMIT_DESCRIPTION,
    responses=_SUBMIT_ERRORS,
)
async def submit_bulk_change(
    request: Request,
    response: Response,
    caller: WriteCaller,
    body: Annotated[BulkChangeRequest, Body(openapi_examples=SUBMIT_EXAMPLES)],
    idempotency_key: IdempotencyKey = None,
) -> BulkChangeAccepted:
    return await _submit(request, response, caller, body, idempotency_key)


@router.post(
    "/validate",
    response_model=ValidationReport,
    response_model_exclude_none=True,
    summary="Dry run: the per-device verdicts a submit would store, storing nothing",
    description=VALIDATE_DESCRIPTION,
    responses=problem_responses(
        Unauthenticated, Unprocessable, UnsupportedChangeType, PayloadTooLarge
    ),
)
async def validate_bulk_change(
    request: Request,
    caller: WriteCaller,
    body: Annotated[BulkChangeRequest, Body(openapi_examples=SUBMIT_EXAMPLES)],
) -> ValidationReport:
    async with request.app.state.sessionmaker() as session:
        try:
            return await service.dry_run(
                session,
                caller.tenant,
                body,
                max_devices=request.app.state.settings.intake_max_devices,
            )
        finally:
            await session.rollback()


@router.post(
    "/csv",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BulkChangeAccepted,
    response_model_exclude_none=True,
    summary="Submit a bulk change with its devices in a CSV file",
    description=CSV_DESCRIPTION,
    responses=problem_responses(
        Unauthenticated,
        Unprocessable,
        InvalidCsv,
        UnsupportedChangeType,
        PayloadTooLarge,
        IdempotencyKeyReused,
        UnsupportedMediaType,
        TooManyRequests,
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}, "examples": CSV_EXAMPLES}},
        }
    },
)
async def submit_bulk_change_csv(
    request: Request,
    response: Response,
    caller: WriteCaller,
    x_bulk_change: Annotated[
        str | None,
        Header(
            alias=csv_upload.HEADER,
            description="The request as JSON, without `Devices`/`IdentifierChanges` (the "
            'CSV lists the devices), e.g. `{"ServiceProviderId": 4, "ChangeType": 7, '
            '"CarrierRatePlanUpdate": {"CarrierRatePlan": "M2M_5G"}}`.',
        ),
    ] = None,
    idempotency_key: IdempotencyKey = None,
) -> BulkChangeAccepted:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in csv_upload.MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"Send the devices as text/csv (not {media_type or 'no content type'})."
        )
    max_devices = request.app.state.settings.intake_max_devices
    length = request.headers.get("content-length", "")
    if length.isdigit() and len(length) < 20:
        csv_upload.check_size(int(length), max_devices=max_devices)
    upload = await csv_upload.read_upload(request.stream(), max_devices=max_devices)
    body = csv_upload.request_from_upload(upload, x_bulk_change, max_devices=max_devices)
    return await _submit(request, response, caller, body, idempotency_key)
