"""Deactivation (ChangeType 3 to Deactive). Devices with the same reason code, early
termination fee waiver and delete-after flag share a request (a reason code left out takes the
carrier adapter's default); the carrier shows it done once the device is deactivated."""

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


class DeactivateParams(Params):
    reason_code: str | None = None
    etf_waiver: bool = False
    delete_after: bool = False


def key(params: Mapping[str, Any]) -> Hashable:
    return json.dumps(
        [
            params.get("reason_code"),
            bool(params.get("etf_waiver")),
            bool(params.get("delete_after")),
        ]
    )


async def send(
    adapter: CarrierAdapter, devices: Sequence[DeviceRef], params: Mapping[str, Any]
) -> AsyncRequestAccepted | SyncActionResult:
    return await adapter.deactivate(
        devices,
        reason_code=params.get("reason_code") or None,
        etf_waiver=bool(params.get("etf_waiver")),
        delete_after=bool(params.get("delete_after")),
    )


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    return set_status(device, c.DeviceStatus.DEACTIVATED.value)


SPEC = OperationSpec(
    name=ops.DEACTIVATE,
    params=DeactivateParams,
    apply=apply,
    send=send,
    capability=ops.DEACTIVATE,
    key=key,
    shown=status_shown(frozenset({c.DeviceStatus.DEACTIVATED.value})),
)
