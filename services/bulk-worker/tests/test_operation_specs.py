"""Each operation spec's one ``apply`` records a confirmed result; this checks that the three
paths that learn of a carrier's result leave the same device record: a carrier callback (the
receiver's reconciliation), the resume check of an interrupted attempt, and the watchdog of a
missing callback (both read the device back from the carrier, here the simulator over HTTP).

A path that records a result its own way (a second copy of an effect) fails here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from devicebulk_common import contracts as c
from devicebulk_common.callbacks import (
    lock_request,
    reconcile_request,
    store,
)
from devicebulk_common.carriers.thingspace_callbacks import RESPONSE_OPS
from devicebulk_common.carriers.thingspace_callbacks import parse as parse_thingspace
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import BulkChange, Device, DeviceChange
from devicebulk_common.operation_specs import SPECS
from devicebulk_worker import resume
from devicebulk_worker.operations.registry import job_for
from devicebulk_worker.recording import record_carrier_state
from devicebulk_worker.watchdog import CallbackWatchdog

RESPONSE_KEYS = {op: key for key, (op, phase) in RESPONSE_OPS.items() if phase is None}


@dataclass(frozen=True)
class Case:
    op: str
    params: dict[str, Any]
    before: dict[str, Any]  # the device record before the change
    carrier_state: str  # what the carrier shows once the change took effect
    carrier_plan: str = "M2M_4G"
    assigns_number: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        "activate",
        {"op": "activate", "service_plan": "M2M_5G", "zip_code": "92127"},
        # A deactivated device activated again: it had a number before.
        {"status": "deactivated", "mdn": "7600000001", "msisdn": "17600000001"},
        "active",
        carrier_plan="M2M_5G",
        assigns_number=True,
    ),
    Case("suspend", {"op": "suspend"}, {"status": "active"}, "suspend"),
    Case("restore", {"op": "restore"}, {"status": "suspended"}, "active"),
    Case("deactivate", {"op": "deactivate"}, {"status": "active"}, "deactive"),
    Case(
        "change_plan",
        {"op": "change_plan", "service_plan": "M2M_LTE"},
        {"status": "active"},
        "active",
        carrier_plan="M2M_LTE",
    ),
]


def test_every_operation_the_carrier_shows_has_a_case():
    """A new operation spec whose result the carrier's view shows needs its case here."""
    shown = {name for name, spec in SPECS.items() if spec.shown is not None and spec.send}
    # add and delete answer synchronously, set_status too (on the carriers that have it).
    assert shown - {"add", "delete", "set_status"} == {case.op for case in CASES}


FIELDS = ("status", "mdn", "msisdn", "carrier_rate_plan", "is_active", "is_deleted")


def _record(device: Device, change: DeviceChange, mdn: str | None) -> dict[str, Any]:
    """The device record and the change's outcome, the carrier's numbers named not valued
    (each device has its own at the carrier)."""
    out: dict[str, Any] = {f: getattr(device, f) for f in FIELDS}
    if mdn and out["mdn"] == mdn:
        out["mdn"] = "<the carrier's MDN>"
    if mdn and out["msisdn"] == f"1{mdn}":
        out["msisdn"] = "<the carrier's MSISDN>"
    result = dict(change.result or {})
    for key, value in list(result.items()):
        if mdn and value in (mdn, f"1{mdn}"):
            result[key] = "<the carrier's number>"
    out["change"] = (change.status, change.error_code, result)
    return out


async def _prepare(sessionmaker, world, case: Case) -> tuple[uuid.UUID, list[DeviceChange]]:
    bulk_id = uuid.uuid4()
    async with sessionmaker() as s, s.begin():
        for d in world.devices:
            device = await s.get(Device, d.id)
            for name, value in case.before.items():
                setattr(device, name, value)
        s.add(
            BulkChange(
                id=bulk_id,
                tenant_id=world.tenant.id,
                service_provider_id=world.provider.id,
                change_type=c.ChangeType.STATUS_UPDATE.value,
                status="PROCESSING",
                device_count=3,
                remaining_count=3,
                request={},
            )
        )
        await s.flush()
        changes = [
            DeviceChange(
                bulk_change_id=bulk_id,
                device_id=d.id,
                iccid=d.iccid,
                status=c.DeviceChangeStatus.AWAITING_CALLBACK.value,
                params=case.params,
                attempts=1,
                carrier_request_id=f"req-{uuid.uuid4().hex}",
            )
            for d in world.devices
        ]
        s.add_all(changes)
    return bulk_id, changes


@pytest.mark.parametrize("case", CASES, ids=[case.op for case in CASES])
async def test_callback_resume_and_watchdog_record_the_same_device(
    case, handler, world, carrier, sessionmaker
):
    mdns = [f"76055501{i:02d}" for i in range(3)] if case.assigns_number else [None] * 3
    await carrier.seed(
        [
            {
                "iccid": d.iccid,
                "imei": d.imei,
                "state": case.carrier_state,
                "servicePlan": case.carrier_plan,
                **({"mdn": mdn} if mdn else {}),
            }
            for d, mdn in zip(world.devices, mdns, strict=True)
        ]
    )
    bulk_id, (by_callback, by_resume, by_watchdog) = await _prepare(sessionmaker, world, case)

    # 1. The carrier's callback, stored and reconciled as the receiver does.
    ids = [{"kind": "iccid", "id": world.devices[0].iccid}]
    answer = list(ids)
    if mdns[0]:
        answer += [{"kind": "mdn", "id": mdns[0]}, {"kind": "msisdn", "id": f"1{mdns[0]}"}]
    payload = {
        "requestId": by_callback.carrier_request_id,
        "deviceIds": ids,
        "status": "Success",
        "deviceResponse": {RESPONSE_KEYS[case.op]: {"deviceIds": answer}},
    }
    parsed = parse_thingspace(payload)
    async with unit_of_work(sessionmaker) as s:
        callback_id, _ = await store(s, world.provider.id, parsed, payload)
    async with unit_of_work(sessionmaker) as s:
        await lock_request(s, parsed.request_id, shared=True)
        await reconcile_request(s, parsed.request_id, callback_ids=[callback_id])

    # 2. The resume check of an attempt interrupted after it reached the carrier.
    async with sessionmaker() as s, s.begin():
        await s.execute(
            text("UPDATE device_change SET status = 'Processing' WHERE id = :id"),
            {"id": by_resume.id},
        )
    async with sessionmaker() as s:
        dc = await s.get(DeviceChange, by_resume.id)
        job = job_for(dc, await s.get(BulkChange, bulk_id), await s.get(Device, dc.device_id))
    adapter = handler._adapters.adapter(world.provider)
    (view,) = await resume.check_many(adapter, [job])
    assert isinstance(view, resume.CarrierView), view
    assert view.verdict == "done", view.note
    await record_carrier_state(sessionmaker, job, view)

    # 3. The watchdog of a callback that never came.
    async with sessionmaker() as s, s.begin():
        await s.execute(
            text("UPDATE device_change SET updated_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": by_watchdog.id},
        )
    watchdog = CallbackWatchdog(
        sessionmaker, handler._adapters, handler, timeout_s=600, give_up_s=86_400, max_attempts=3
    )
    assert await watchdog.check_once() == 1

    records = []
    async with sessionmaker() as s:
        for dc, device, mdn in zip(
            (by_callback, by_resume, by_watchdog), world.devices, mdns, strict=True
        ):
            change = await s.get(DeviceChange, dc.id)
            records.append(_record(await s.get(Device, device.id), change, mdn))
    callback, resumed, watched = records
    assert callback["change"][0] == "Success", callback
    assert resumed == callback
    assert watched == callback
