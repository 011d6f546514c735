"""ChangeType 3, StatusUpdate: activate, suspend, restore, deactivate, add to inventory."""

from __future__ import annotations

from typing import Any

from devicebulk_common.carriers import CarrierAdapter, PlaceOfUse
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


@operation("activate")
async def activate(adapter: CarrierAdapter, job: Job) -> Outcome:
    ts = _thingspace(job)
    ppu = place_of_use(ts)
    return await adapter.activate(
        [job.device],
        service_plan=job.params["service_plan"],
        zip_code=ts.get("ZipCode") or (ppu.zip if ppu else ""),
        place_of_use=ppu,
        sku_number=ts.get("SkuNumber"),
    )


@operation("suspend")
async def suspend(adapter: CarrierAdapter, job: Job) -> Outcome:
    return await adapter.suspend([job.device])


@operation("restore")
async def restore(adapter: CarrierAdapter, job: Job) -> Outcome:
    return await adapter.restore([job.device])


@operation("deactivate")
async def deactivate(adapter: CarrierAdapter, job: Job) -> Outcome:
    ts = _thingspace(job)
    return await adapter.deactivate(
        [job.device],
        reason_code=ts.get("ReasonCode") or "FF",
        etf_waiver=bool(ts.get("EtfWaiver")),
        delete_after=bool(ts.get("DeleteAfterDeactivation")),
    )


@operation("add")
async def add(adapter: CarrierAdapter, job: Job) -> Outcome:
    return await adapter.add([job.device], sku_number=_thingspace(job).get("SkuNumber"))
