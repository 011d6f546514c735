"""ChangeType 8, ChangeICCIDorIMEI: one old → new identifier pair a device, one device a
carrier request (ThingSpace ``PUT /devices/{serviceType}/actions/deviceId``).

Asynchronous: on the carrier's success the device record takes the new identifier and
``device_identifier_history`` keeps the old one (:mod:`devicebulk_common.callback_effects`).
The callback may name the device by its new or its old ICCID: it is matched by the request id,
which only this device change carries.
"""

from __future__ import annotations

from collections.abc import Sequence

from devicebulk_common import operations as ops
from devicebulk_common.carriers import CarrierAdapter, DeviceRef
from devicebulk_worker.operations.registry import Job, Outcome, operation

OPTIONS = {"ICCID": "ChangeICCID", "IMEI": "ChangeIMEI"}


def identifiers(job: Job) -> tuple[DeviceRef, DeviceRef, str]:
    """(the device as the carrier knows it now, what it becomes, ThingSpace's change4gOption)."""
    params = job.params
    kind = str(params.get("identifier_type") or "").upper()
    if kind not in OPTIONS:
        raise ValueError(f"identifier_type must be ICCID or IMEI, not {kind!r}")
    current = DeviceRef(
        iccid=params.get("old_iccid") or job.device.iccid,
        imei=params.get("old_imei") or job.device.imei,
    )
    if kind == "ICCID":
        if not params.get("new_iccid"):
            raise ValueError("an ICCID change needs new_iccid")
        target = DeviceRef(iccid=params["new_iccid"])
    else:
        if not params.get("new_imei"):
            raise ValueError("an IMEI change needs new_imei")
        target = DeviceRef(iccid=current.iccid, imei=params["new_imei"])
    return current, target, OPTIONS[kind]


@operation(ops.CHANGE_IDENTIFIER)  # key None: one device a request
async def change_identifier(adapter: CarrierAdapter, jobs: Sequence[Job]) -> Outcome:
    (job,) = jobs
    current, target, option = identifiers(job)
    return await adapter.change_identifier(current, target, option=option)
