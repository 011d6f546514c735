"""ChangeType 4, CustomerRatePlanChange (database only): the customer rate plan, pool and
data allocation; a value that is None is left as is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devicebulk_common import operations as ops
from devicebulk_common.models import CustomerRatePlan, CustomerRatePool
from devicebulk_common.operation_specs._local import exists, present
from devicebulk_common.operation_specs.spec import Confirmed, OperationSpec, Params

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from devicebulk_common.models import Device, DeviceChange


class ChangeCustomerPlanParams(Params):
    customer_rate_plan_id: int | None = None
    customer_rate_pool_id: int | None = None
    data_allocation_mb: int | None = None


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    device = present(device)
    params = dc.params or {}
    plan, pool = params.get("customer_rate_plan_id"), params.get("customer_rate_pool_id")
    if plan is not None:
        await exists(session, CustomerRatePlan, plan, "CustomerRatePlanNotFound", "rate plan")
    if pool is not None:
        await exists(session, CustomerRatePool, pool, "CustomerRatePoolNotFound", "rate pool")
    changed: dict[str, Any] = {}
    for name in ("customer_rate_plan_id", "customer_rate_pool_id", "data_allocation_mb"):
        value = params.get(name)
        if value is not None:
            setattr(device, name, value)
            changed[name] = value
    return changed


SPEC = OperationSpec(name=ops.CHANGE_CUSTOMER_PLAN, params=ChangeCustomerPlanParams, apply=apply)
