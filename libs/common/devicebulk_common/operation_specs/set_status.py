"""A status change to one of the carrier's own statuses (a carrier whose statuses are data, such
as Control Center's SIM statuses: ``status`` is the carrier's value, checked at intake against
the provider's status graph). One device a request on such a carrier; done once the carrier
shows the device in that status. The result records our inventory's status for it (the
neutral status the carrier's adapter reads it as) when the carrier showed the device.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


class SetStatusParams(Params):
    status: str


def key(params: Mapping[str, Any]) -> str:
    return str(params.get("status"))


async def send(
    adapter: CarrierAdapter, devices: Sequence[DeviceRef], params: Mapping[str, Any]
) -> AsyncRequestAccepted | SyncActionResult:
    return await adapter.change_status(devices, params["status"])


def shown(params: Mapping[str, Any], device: CarrierDevice | None) -> tuple[Verdict, str]:
    if device is None:
        return "not-done", "carrier does not list the device"
    if device.state == params.get("status"):
        return "done", f"carrier already shows the device {device.state}"
    return "not-done", f"carrier shows the device {device.state}"


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    target = (dc.params or {}).get("status")
    if device is not None and confirmed.status:
        device.status = confirmed.status
    return {"status": target}


SPEC = OperationSpec(
    name=ops.SET_STATUS,
    params=SetStatusParams,
    apply=apply,
    send=send,
    capability=ops.SET_STATUS,
    key=key,
    shown=shown,
)
