"""Restoration of a suspended device (ChangeType 3 to Restore). Every device of a bulk change
shares a request; the carrier shows it done once the device is active."""

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


class RestoreParams(Params):
    pass


def key(params: Mapping[str, Any]) -> Hashable:
    return json.dumps(())


async def send(
    adapter: CarrierAdapter, devices: Sequence[DeviceRef], params: Mapping[str, Any]
) -> AsyncRequestAccepted | SyncActionResult:
    return await adapter.restore(devices)


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    return set_status(device, c.DeviceStatus.ACTIVE.value)


SPEC = OperationSpec(
    name=ops.RESTORE,
    params=RestoreParams,
    apply=apply,
    send=send,
    capability=ops.RESTORE,
    key=key,
    shown=status_shown(frozenset({c.DeviceStatus.ACTIVE.value})),
)
