"""ChangeType 1, CustomerAssignment (database only): the device's Rev customer; with
``create_rev_service`` its Rev service too (the active one is moved to the customer, or one is
opened)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from devicebulk_common import operations as ops
from devicebulk_common.models import RevCustomer, RevService
from devicebulk_common.operation_specs._local import exists, present
from devicebulk_common.operation_specs.spec import Confirmed, OperationSpec, Params

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from devicebulk_common.models import Device, DeviceChange


class AssignCustomerParams(Params):
    rev_customer_id: str
    create_rev_service: bool = False


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    device = present(device)
    params = dc.params or {}
    customer = str(params["rev_customer_id"])
    await exists(session, RevCustomer, customer, "RevCustomerNotFound", "Rev customer")
    device.rev_customer_id = customer
    result: dict[str, Any] = {"rev_customer_id": customer}
    if params.get("create_rev_service"):
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


SPEC = OperationSpec(name=ops.ASSIGN_CUSTOMER, params=AssignCustomerParams, apply=apply)
