"""Submitting a bulk change: validate every device, store the bulk change and one row per
device in one transaction, and wake the relay, which publishes from the committed rows.

The dry run does the same reading and judging, and stores nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.models import ServiceProvider, Tenant
from devicebulk_common.wire import (
    BulkChangeAccepted,
    BulkChangeRequest,
    DeviceVerdict,
    ValidationReport,
)
from devicebulk_intake.bulk_changes import idempotency, quotas, store
from devicebulk_intake.bulk_changes.checks import (
    CARRIER_CHANGE_TYPES,
    SUPPORTED,
    check_request,
    writes_disabled_reason,
)
from devicebulk_intake.bulk_changes.validation import Verdict, validate

__all__ = ["SUPPORTED", "Quota", "Submitted", "dry_run", "submit"]


@dataclass(frozen=True)
class Quota:
    """A tenant's limits (``quotas.check``)."""

    submits_per_minute: int
    max_devices_in_flight: int


@dataclass(frozen=True)
class Submitted:
    answer: BulkChangeAccepted
    replayed: bool  # the first answer to a repeated Idempotency-Key


def stored_request(request: BulkChangeRequest) -> dict[str, Any]:
    """The request as the bulk change keeps it (and as a repeated key is compared with)."""
    return request.model_dump(mode="json", exclude_none=True)


def cannot_run_reason(change_type: c.ChangeType, provider: ServiceProvider) -> str | None:
    """Why the change cannot run at all, or None. Database-only change types always can."""
    if change_type in CARRIER_CHANGE_TYPES and not provider.write_enabled:
        return writes_disabled_reason(provider.id)
    return None


async def assess(
    session: AsyncSession, tenant: Tenant, request: BulkChangeRequest, *, max_devices: int
) -> tuple[c.ChangeType, list[Verdict], str | None]:
    """The whole-request checks, then a verdict per device, and why it cannot run (if so)."""
    change_type, provider, carrier = await check_request(session, request, max_devices=max_devices)
    verdicts = await validate(session, tenant.id, request, change_type, carrier)
    return change_type, verdicts, cannot_run_reason(change_type, provider)


async def submit(
    session: AsyncSession,
    tenant: Tenant,
    user: str | None,
    request: BulkChangeRequest,
    *,
    max_devices: int,
    idempotency_key: str | None = None,
    quota: Quota | None = None,
    notify_email: str | None = None,
) -> Submitted:
    """``user`` is who submits (``created_by`` and the audit's actor: a token's subject);
    ``notify_email`` where the report goes (None: the tenant's notification address)."""
    as_stored = stored_request(request)
    if idempotency_key is not None:
        first = await idempotency.find(session, tenant.id, idempotency_key)
        if first is not None:
            return Submitted(await idempotency.replay(session, first, as_stored), replayed=True)
    if quota is not None:
        await quotas.check(
            session,
            tenant.id,
            len(request.Devices) + len(request.IdentifierChanges or []),
            submits_per_minute=quota.submits_per_minute,
            max_devices_in_flight=quota.max_devices_in_flight,
        )
    change_type, verdicts, error_reason = await assess(
        session, tenant, request, max_devices=max_devices
    )
    bulk_id = await store.insert_bulk_change(
        session,
        tenant_id=tenant.id,
        provider_id=request.ServiceProviderId,
        change_type=change_type,
        request=as_stored,
        user=user,
        notify_email=notify_email,
        idempotency_key=idempotency_key,
        verdicts=verdicts,
        error_reason=error_reason,
    )
    if bulk_id is None:  # a concurrent submit with the same key committed first
        assert idempotency_key is not None
        first = await idempotency.find(session, tenant.id, idempotency_key)
        assert first is not None
        return Submitted(await idempotency.replay(session, first, as_stored), replayed=True)
    answer = await store.store_devices(
        session, bulk_id, verdicts, error_reason=error_reason, actor=user or store.INTAKE
    )
    return Submitted(answer, replayed=False)


async def dry_run(
    session: AsyncSession, tenant: Tenant, request: BulkChangeRequest, *, max_devices: int
) -> ValidationReport:
    """The verdicts a submit of ``request`` would store; nothing is written."""
    change_type, verdicts, error_reason = await assess(
        session, tenant, request, max_devices=max_devices
    )
    ok = sum(v.ok for v in verdicts)
    return ValidationReport(
        ServiceProviderId=request.ServiceProviderId,
        ChangeType=change_type.value,
        DeviceCount=len(verdicts),
        OkCount=ok,
        FailedCount=len(verdicts) - ok,
        ErrorReason=error_reason,
        Devices=[
            DeviceVerdict(ICCID=v.iccid, Ok=v.ok, Operation=v.op, Error=v.error) for v in verdicts
        ],
    )
