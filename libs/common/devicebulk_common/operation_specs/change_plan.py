"""ChangeType 7, CarrierRatePlanChange: the carrier's service plan. Devices going to the same
plan share one request, whatever plan they come from (``current_service_plan`` is kept for the
audit only: a carrier may read it as a filter, and our copy can be stale). The carrier shows it
done once it shows the device on the target plan; the result sets ``device.carrier_rate_plan``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from devicebulk_common import operations as ops
from devicebulk_common.carriers.base import (
    AsyncRequestAccepted,
    CarrierAdapter,
    CarrierDevice,
    DeviceRef,
    SyncActionResult,
)
from devicebulk_common.operation_specs.spec import (
    Confirmed,
    OperationSpec,
    Params,
    Verdict,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from devicebulk_common.models import Device, DeviceChange


class ChangePlanParams(Params):
    service_plan: str
    current_service_plan: str | None = None


def key(params: Mapping[str, Any]) -> Hashable:
    return params.get("service_plan")


async def send(
    adapter: CarrierAdapter, devices: Sequence[DeviceRef], params: Mapping[str, Any]
) -> AsyncRequestAccepted | SyncActionResult:
    return await adapter.change_service_plan(devices, service_plan=params["service_plan"])


def shown(params: Mapping[str, Any], device: CarrierDevice | None) -> tuple[Verdict, str]:
    plan = params.get("service_plan")
    if device is not None and plan and device.service_plan == plan:
        return "done", f"carrier already shows the device on plan {plan}"
    state = f"shows the device {device.state}" if device else "does not list the device"
    return "not-done", f"carrier {state}"


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    plan = (dc.params or {}).get("service_plan")
    if device is not None and plan:
        device.carrier_rate_plan = plan
    return {"carrier_rate_plan": plan}


SPEC = OperationSpec(
    name=ops.CHANGE_PLAN,
    params=ChangePlanParams,
    apply=apply,
    send=send,
    capability=ops.CHANGE_PLAN,
    key=key,
    shown=shown,
)
