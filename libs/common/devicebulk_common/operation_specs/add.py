"""Adding devices to the carrier's inventory (ChangeType 3 to Inventory), as preactive.
Synchronous: the answer names each device's outcome. At most 1,000 devices a request, those
with the same SKU together; the carrier shows it done once the device is preactive."""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from devicebulk_common import contracts as c
from devicebulk_common import operations as ops
from devicebulk_common.carriers.base import (
    AsyncRequestAccepted,
    CarrierAdapter,
    DeviceRef,
    SyncActionResult,
)
from devicebulk_common.operation_specs.spec import (
    Confirmed,
    OperationSpec,
    Params,
    set_status,
    status_shown,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from devicebulk_common.models import Device, DeviceChange


MAX_DEVICES = 1_000


class AddParams(Params):
    sku_number: str | None = None


def key(params: Mapping[str, Any]) -> Hashable:
    return json.dumps(params.get("sku_number"))


async def send(
    adapter: CarrierAdapter, devices: Sequence[DeviceRef], params: Mapping[str, Any]
) -> AsyncRequestAccepted | SyncActionResult:
    return await adapter.add(devices, sku_number=params.get("sku_number"))


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    return set_status(device, c.DeviceStatus.PREACTIVE.value)


SPEC = OperationSpec(
    name=ops.ADD,
    params=AddParams,
    apply=apply,
    send=send,
    capability=ops.ADD,
    key=key,
    max_devices=MAX_DEVICES,
    shown=status_shown(frozenset({c.DeviceStatus.PREACTIVE.value})),
)
