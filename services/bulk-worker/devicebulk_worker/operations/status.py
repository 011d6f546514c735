"""ChangeType 3, StatusUpdate: activate, suspend, restore, deactivate, add to inventory.

Every device of a batch gets the same carrier parameters, so each operation's batch key is
exactly the parameters it sends besides the devices.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common import operations as ops
from devicebulk_common.carriers import CarrierAdapter, PlaceOfUse
from devicebulk_common.models import Device
from devicebulk_worker.operations.registry import Job, Outcome, operation


def _thingspace(job: Job) -> dict[str, Any]:
    return (job.request.get("StatusUpdate") or {}).get("ThingSpaceStatusUpdate") or {}


def place_of_use(ts: dict[str, Any]) -> PlaceOfUse | None:
    ppu = ts.get("PrimaryPlaceOfUse")
    if not ppu:
        return None
    address, name = ppu["Address"], ppu["CustomerName"]
    return PlaceOfUse(
        address_line1=address["AddressLine1"],
        address_line2=address.get("AddressLine2"),
        city=address["City"],
        state=address["State"],
        zip=address["Zip"],
        zip4=address.get("Zip4"),
        country=address["Country"],
        first_name=name["FirstName"],
        last_name=name["LastName"],
    )


def _request_key(job: Job, *fields: str) -> Hashable:
    ts = _thingspace(job)
    return json.dumps([ts.get(f) for f in fields], sort_keys=True)


def _activation_key(job: Job) -> Hashable:
    return (
        job.params.get("service_plan"),
        _request_key(job, "ZipCode", "PrimaryPlaceOfUse", "SkuNumber"),
    )


@operation(ops.ACTIVATE, key=_activation_key, max_devices=10_000)
async def activate(adapter: CarrierAdapter, jobs: Sequence[Job]) -> Outcome:
    ts = _thingspace(jobs[0])
    ppu = place_of_use(ts)
    return await adapter.activate(
        [j.device for j in jobs],
        service_plan=jobs[0].params["service_plan"],
        zip_code=ts.get("ZipCode") or (ppu.zip if ppu else ""),
        place_of_use=ppu,
        sku_number=ts.get("SkuNumber"),
    )


@operation(ops.SUSPEND, key=lambda job: _request_key(job, "WithBilling"))
async def suspend(adapter: CarrierAdapter, jobs: Sequence[Job]) -> Outcome:
    return await adapter.suspend([j.device for j in jobs])


@operation(ops.RESTORE, key=lambda job: ())
async def restore(adapter: CarrierAdapter, jobs: Sequence[Job]) -> Outcome:
    return await adapter.restore([j.device for j in jobs])


@operation(
    ops.DEACTIVATE,
    key=lambda job: _request_key(job, "ReasonCode", "EtfWaiver", "DeleteAfterDeactivation"),
)
async def deactivate(adapter: CarrierAdapter, jobs: Sequence[Job]) -> Outcome:
    ts = _thingspace(jobs[0])
    return await adapter.deactivate(
        [j.device for j in jobs],
        reason_code=ts.get("ReasonCode") or "FF",
        etf_waiver=bool(ts.get("EtfWaiver")),
        delete_after=bool(ts.get("DeleteAfterDeactivation")),
    )


async def _now_preactive(session: AsyncSession, jobs: Sequence[Job]) -> None:
    ids = [j.device_id for j in jobs if j.device_id is not None]
    if ids:
        await session.execute(
            update(Device).where(Device.id.in_(ids)).values(status=c.DeviceStatus.PREACTIVE.value)
        )


@operation(
    ops.ADD,
    key=lambda job: _request_key(job, "SkuNumber"),
    max_devices=1_000,
    sync_effect=_now_preactive,
)
async def add(adapter: CarrierAdapter, jobs: Sequence[Job]) -> Outcome:
    return await adapter.add(
        [j.device for j in jobs], sku_number=_thingspace(jobs[0]).get("SkuNumber")
    )
