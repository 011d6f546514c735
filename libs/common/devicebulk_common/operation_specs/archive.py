"""ChangeType 5, Archival (database only): the device becomes inactive and deleted (intake
refused recent use and an active Rev service unless the request overrode validation)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devicebulk_common import operations as ops
from devicebulk_common.operation_specs._local import present
from devicebulk_common.operation_specs.spec import Confirmed, OperationSpec, Params

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from devicebulk_common.models import Device, DeviceChange


class ArchiveParams(Params):
    pass


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    device = present(device)
    device.is_active = False
    device.is_deleted = True
    return {"is_active": False, "is_deleted": True}


SPEC = OperationSpec(name=ops.ARCHIVE, params=ArchiveParams, apply=apply)
