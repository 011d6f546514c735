"""Device deletion (ChangeType 9): remove deactivated devices from the carrier account
(ThingSpace ``POST /devices/actions/delete``, at most 100 devices a request, only devices in
the ``deactive`` state). Synchronous: the answer names each device's outcome, and a device the
carrier deleted is marked deleted in our inventory in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common import operations as ops
from devicebulk_common.carriers import CarrierAdapter
from devicebulk_common.carriers.thingspace_wire import MAX_DELETE_DEVICES
from devicebulk_common.models import Device
from devicebulk_worker.operations.registry import Job, Outcome, operation


async def _deleted(session: AsyncSession, jobs: Sequence[Job]) -> None:
    """No longer at the carrier, and gone from the inventory."""
    ids = [j.device_id for j in jobs if j.device_id is not None]
    if ids:
        await session.execute(
            update(Device)
            .where(Device.id.in_(ids))
            .values(
                status=c.DeviceStatus.NOT_PROVISIONED.value,
                is_active=False,
                is_deleted=True,
            )
        )


@operation(ops.DELETE, key=lambda job: (), max_devices=MAX_DELETE_DEVICES, sync_effect=_deleted)
async def delete(adapter: CarrierAdapter, jobs: Sequence[Job]) -> Outcome:
    return await adapter.delete([j.device for j in jobs])
