"""Activation (ChangeType 3 to Active): the device gets a phone number and a service plan.

Batched by everything sent besides the devices (plan, ZIP, place of use, SKU). Asynchronous on
a carrier that answers by callback; the carrier's view shows it done once the device is active
(under way while it is pending activation). The result records the status, the numbers the
carrier assigned (a number it does not report is kept, never cleared) and the service plan.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from devicebulk_common import contracts as c
from devicebulk_common import operations as ops
from devicebulk_common.carriers.base import AsyncRequestAccepted, CarrierAdapter, DeviceRef
from devicebulk_common.operation_specs._place import PlaceOfUseParams, place_of_use
from devicebulk_common.operation_specs.spec import (
    Confirmed,
    EffectRefused,
    OperationSpec,
    Params,
    status_shown,
)

# The longest MDN/MSISDN the device record holds (``device.mdn``, ``device.msisdn``).
NUMBER_MAX = 20

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from devicebulk_common.models import Device, DeviceChange


class ActivateParams(Params):
    service_plan: str
    zip_code: str | None = None
    place_of_use: PlaceOfUseParams | None = None
    sku_number: str | None = None


def key(params: Mapping[str, Any]) -> Hashable:
    return json.dumps(
        [params.get(k) for k in ("service_plan", "zip_code", "place_of_use", "sku_number")],
        sort_keys=True,
    )


async def send(
    adapter: CarrierAdapter, devices: Sequence[DeviceRef], params: Mapping[str, Any]
) -> AsyncRequestAccepted:
    ppu = place_of_use(params)
    return await adapter.activate(
        devices,
        service_plan=params["service_plan"],
        zip_code=params.get("zip_code") or (ppu.zip if ppu else ""),
        place_of_use=ppu,
        sku_number=params.get("sku_number"),
    )


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    ids = confirmed.ids
    for kind in ("mdn", "msisdn"):
        if len(ids.get(kind) or "") > NUMBER_MAX:
            # Refused before anything changes: a value the column cannot hold would fail the
            # recording transaction again on every try.
            raise EffectRefused(
                "Activation.NumberTooLong",
                f"the carrier activated the device with {kind.upper()} {ids[kind]!r}, longer "
                f"than the {NUMBER_MAX} characters a phone number can have; record it by hand",
            )
    if device is None:
        return {}
    device.status = c.DeviceStatus.ACTIVE.value
    device.mdn = ids.get("mdn") or device.mdn
    device.msisdn = ids.get("msisdn") or ids.get("mdn") or device.msisdn
    plan = confirmed.service_plan or (dc.params or {}).get("service_plan")
    if plan:
        device.carrier_rate_plan = plan
    return {"msisdn": device.msisdn, "mdn": device.mdn}


SPEC = OperationSpec(
    name=ops.ACTIVATE,
    params=ActivateParams,
    apply=apply,
    send=send,
    capability=ops.ACTIVATE,
    key=key,
    shown=status_shown(
        frozenset({c.DeviceStatus.ACTIVE.value}),
        frozenset({c.DeviceStatus.PENDING_ACTIVATION.value}),
    ),
)
