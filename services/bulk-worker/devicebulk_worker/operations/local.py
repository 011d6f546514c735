"""The database-only change types: ChangeType 4 (customer rate plan), 1 (customer assignment)
and 5 (archival). No carrier call; they run through the same worker path and audit trail, in
the worker's transaction. Intake validated them (the worker never re-validates): they refuse
only what the database could not take, a device or a catalogue row that no longer exists (a
foreign key that fails would otherwise fail every redelivery and never end the change).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import operations as ops
from devicebulk_common.models import (
    CustomerRatePlan,
    CustomerRatePool,
    Device,
    RevCustomer,
    RevService,
)
from devicebulk_worker.operations.registry import Job, LocalRefusal, local_operation

DEVICE_NOT_FOUND = "DeviceNotFound"


async def _device(session: AsyncSession, job: Job) -> Device:
    device = (
        await session.get(Device, job.device_id, with_for_update=True)
        if job.device_id is not None
        else None
    )
    if device is None:
        raise LocalRefusal(DEVICE_NOT_FOUND, "the device is no longer in the inventory")
    return device


async def _exists(session: AsyncSession, model: type[Any], key: Any, code: str, what: str) -> None:
    if await session.get(model, key) is None:
        raise LocalRefusal(code, f"{what} {key} no longer exists")


@local_operation(ops.CHANGE_CUSTOMER_PLAN)
async def change_customer_plan(session: AsyncSession, job: Job) -> dict[str, Any]:
    """The customer rate plan, pool and data allocation; a value that is None is left as is."""
    device = await _device(session, job)
    plan, pool = job.params.get("customer_rate_plan_id"), job.params.get("customer_rate_pool_id")
    if plan is not None:
        await _exists(session, CustomerRatePlan, plan, "CustomerRatePlanNotFound", "rate plan")
    if pool is not None:
        await _exists(session, CustomerRatePool, pool, "CustomerRatePoolNotFound", "rate pool")
    changed: dict[str, Any] = {}
    for name in ("customer_rate_plan_id", "customer_rate_pool_id", "data_allocation_mb"):
        value = job.params.get(name)
        if value is not None:
            setattr(device, name, value)
            changed[name] = value
    return changed


@local_operation(ops.ASSIGN_CUSTOMER)
async def assign_customer(session: AsyncSession, job: Job) -> dict[str, Any]:
    """The device's Rev customer; with ``create_rev_service`` its Rev service too (the active
    one is moved to the customer, or one is opened)."""
    device = await _device(session, job)
    customer = str(job.params["rev_customer_id"])
    await _exists(session, RevCustomer, customer, "RevCustomerNotFound", "Rev customer")
    device.rev_customer_id = customer
    result: dict[str, Any] = {"rev_customer_id": customer}
    if job.params.get("create_rev_service"):
        service = await session.scalar(
            select(RevService)
            .where(RevService.device_id == device.id, RevService.is_active.is_(True))
            .order_by(RevService.id.desc())
            .limit(1)
            .with_for_update()
        )
        if service is None:
            service = RevService(device_id=device.id, rev_customer_id=customer, is_active=True)
            session.add(service)
            result["rev_service"] = "created"
        else:
            service.rev_customer_id = customer
            result["rev_service"] = "updated"
        await session.flush()
        result["rev_service_id"] = service.id
    return result


@local_operation(ops.ARCHIVE)
async def archive(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Inactive and deleted (intake refused recent use and an active Rev service unless the
    request overrode validation)."""
    device = await _device(session, job)
    device.is_active = False
    device.is_deleted = True
    return {"is_active": False, "is_deleted": True}
