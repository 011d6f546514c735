"""Device deletion (ChangeType 9): remove deactivated devices from the carrier account.
Synchronous: the answer names each device's outcome (the devices a request takes is the
carrier's, declared in its capabilities). The carrier shows it done once it no longer lists
the device; a deleted device leaves our inventory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from devicebulk_common import contracts as c
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
    together,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from devicebulk_common.models import Device, DeviceChange


class DeleteParams(Params):
    pass


async def send(
    adapter: CarrierAdapter, devices: Sequence[DeviceRef], params: Mapping[str, Any]
) -> AsyncRequestAccepted | SyncActionResult:
    return await adapter.delete(devices)


def shown(params: Mapping[str, Any], device: CarrierDevice | None) -> tuple[Verdict, str]:
    if device is None:
        return "done", "carrier no longer lists the device"
    return "not-done", f"carrier shows the device {device.state}"


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    """No longer at the carrier, and gone from the inventory."""
    if device is not None:
        device.status = c.DeviceStatus.NOT_PROVISIONED.value
        device.is_active = False
        device.is_deleted = True
    return {"is_deleted": True}


SPEC = OperationSpec(
    name=ops.DELETE,
    params=DeleteParams,
    apply=apply,
    send=send,
    capability=ops.DELETE,
    key=together,
    shown=shown,
)
