"""An activation of a device that is already active: no second activation, only its primary
place of use is sent again (UNCONFIRMED carrier call, isolated in the adapter). Every device
with the same place of use shares one request; we keep no copy of the place of use (the
carrier's is the record), so the result changes no device column. The carrier's view cannot
show it: an interrupted attempt is sent again (the same address twice is the same change)."""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from devicebulk_common import operations as ops
from devicebulk_common.carriers.base import AsyncRequestAccepted, CarrierAdapter, DeviceRef
from devicebulk_common.carriers.errors import PermanentCarrierError
from devicebulk_common.operation_specs._place import PlaceOfUseParams, place_of_use
from devicebulk_common.operation_specs.spec import Confirmed, OperationSpec, Params

NO_PLACE_OF_USE = "PlaceOfUse.Missing"

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from devicebulk_common.models import Device, DeviceChange


class UpdatePlaceOfUseParams(Params):
    place_of_use: PlaceOfUseParams | None = None


def key(params: Mapping[str, Any]) -> Hashable:
    return json.dumps(params.get("place_of_use"), sort_keys=True)


async def send(
    adapter: CarrierAdapter, devices: Sequence[DeviceRef], params: Mapping[str, Any]
) -> AsyncRequestAccepted:
    ppu = place_of_use(params)
    if ppu is None:
        raise PermanentCarrierError(
            "the device is already active and the request names no primary place of use to update",
            code=NO_PLACE_OF_USE,
        )
    return await adapter.update_place_of_use(devices, ppu)


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    return {"primary_place_of_use": "updated"}


SPEC = OperationSpec(
    name=ops.UPDATE_PLACE_OF_USE,
    params=UpdatePlaceOfUseParams,
    apply=apply,
    send=send,
    capability=ops.UPDATE_PLACE_OF_USE,
    key=key,
)
