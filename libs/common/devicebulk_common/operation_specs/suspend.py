"""Suspension (ChangeType 3 to Suspend). Devices asking for the same billing treatment share
a request; the carrier shows it done once the device is suspended."""

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


class SuspendParams(Params):
    with_billing: bool | None = None


def key(params: Mapping[str, Any]) -> Hashable:
    return json.dumps(params.get("with_billing"))


async def send(
    adapter: CarrierAdapter, devices: Sequence[DeviceRef], params: Mapping[str, Any]
) -> AsyncRequestAccepted | SyncActionResult:
    return await adapter.suspend(devices, with_billing=params.get("with_billing"))


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    return set_status(device, c.DeviceStatus.SUSPENDED.value)


SPEC = OperationSpec(
    name=ops.SUSPEND,
    params=SuspendParams,
    apply=apply,
    send=send,
    capability=ops.SUSPEND,
    key=key,
    shown=status_shown(frozenset({c.DeviceStatus.SUSPENDED.value})),
)
