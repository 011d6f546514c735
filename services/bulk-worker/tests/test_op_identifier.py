"""ChangeType 8: one old → new identifier pair a device; the record follows the carrier."""

from __future__ import annotations

from change_helpers import add_changes, deliver, devices_by_id, run, settle, steps_of
from sqlalchemy import select

from devicebulk_common.contracts import ChangeType
from devicebulk_common.models import CustomerRatePlan, Device, DeviceIdentifierHistory
from devicebulk_devstack.testdata import make_iccid, make_imei, unique_id

CALL = "PUT /api/m2m/v1/devices/{service_type}/actions/deviceId"


def _iccid_change(device: Device, new: str, **extra) -> dict:
    return {
        "op": "change_identifier",
        "identifier_type": "ICCID",
        "old_iccid": device.iccid,
        "new_iccid": new,
        "old_imei": device.imei,
        "new_imei": None,
        "customer_rate_plan_id": None,
        **extra,
    }


async def _active(carrier, devices) -> None:
    await carrier.seed(
        [
            {"iccid": d.iccid, "imei": d.imei, "state": "active", "servicePlan": "M2M_4G"}
            for d in devices
        ]
    )


async def _history(sessionmaker, device_id: int) -> list[DeviceIdentifierHistory]:
    async with sessionmaker() as s:
        return list(
            (
                await s.scalars(
                    select(DeviceIdentifierHistory).where(
                        DeviceIdentifierHistory.device_id == device_id
                    )
                )
            ).all()
        )


async def test_iccid_change_moves_the_record_and_keeps_the_old_iccid_in_history(
    handler, world, carrier, listening, sessionmaker
):
    a, b, _ = world.devices
    await _active(carrier, [a, b])
    new_a, new_b = make_iccid(unique_id() * 1000 + 1), make_iccid(unique_id() * 1000 + 2)
    before = await carrier.calls(CALL)
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.CHANGE_ICCID_OR_IMEI,
        [(a, _iccid_change(a, new_a)), (b, _iccid_change(b, new_b))],
    )

    await run(handler, messages)
    changes = await settle(sessionmaker, messages)

    assert [dc.status for dc in changes] == ["Success", "Success"]
    assert await carrier.calls(CALL) == before + 2  # one device a request
    assert changes[0].carrier_request_id != changes[1].carrier_request_id
    devices = await devices_by_id(sessionmaker, [a.id, b.id])
    assert (devices[a.id].iccid, devices[b.id].iccid) == (new_a, new_b)
    assert devices[a.id].imei == a.imei
    [history] = await _history(sessionmaker, a.id)
    assert (history.identifier_type, history.old_value, history.new_value) == (
        "ICCID",
        a.iccid,
        new_a,
    )
    assert history.device_change_id == changes[0].id
    assert changes[0].result == {"identifier_type": "ICCID", "old": a.iccid, "new": new_a}
    moved = (await carrier.http.get(f"/_sim/devices/{new_a}")).json()
    assert moved["imei"] == a.imei and moved["state"] == "active"
    [call] = [
        s for s in await steps_of(sessionmaker, changes[0].id) if s.step.startswith("carrier")
    ]
    assert '"change4gOption":"ChangeICCID"' in call.request_text.replace(" ", "")
    assert new_a in call.request_text


async def test_imei_change_and_the_customer_rate_plan_set_with_it(
    handler, world, carrier, listening, sessionmaker
):
    device = world.devices[0]
    await _active(carrier, [device])
    plan = CustomerRatePlan(id=unique_id(), tenant_id=world.tenant.id, name="Gold")
    async with sessionmaker() as s, s.begin():
        s.add(plan)
    new_imei = make_imei((unique_id() * 7) % 1_000_000)
    params = {
        **_iccid_change(device, None),
        "identifier_type": "IMEI",
        "new_imei": new_imei,
        "customer_rate_plan_id": plan.id,
    }
    messages = await add_changes(
        sessionmaker, world, ChangeType.CHANGE_ICCID_OR_IMEI, [(device, params)]
    )

    await run(handler, messages)
    (change,) = await settle(sessionmaker, messages)

    assert change.status == "Success"
    stored = (await devices_by_id(sessionmaker, [device.id]))[device.id]
    assert (stored.iccid, stored.imei, stored.customer_rate_plan_id) == (
        device.iccid,
        new_imei,
        plan.id,
    )
    [history] = await _history(sessionmaker, device.id)
    assert (history.identifier_type, history.old_value, history.new_value) == (
        "IMEI",
        device.imei,
        new_imei,
    )
    assert (await carrier.http.get(f"/_sim/devices/{device.iccid}")).json()["imei"] == new_imei


def _success(request_id: str, iccid: str, imei: str | None, new_iccid: str) -> dict:
    envelope = [{"id": iccid, "kind": "Iccid"}] + ([{"id": imei, "kind": "Imei"}] if imei else [])
    return {
        "requestId": request_id,
        "deviceIds": envelope,
        "deviceResponse": {
            "changeIdentifierResponse": {"deviceIds": [{"kind": "iccid", "id": new_iccid}]}
        },
        "status": "Success",
        "callbackCount": 1,
    }


async def test_a_callback_naming_the_new_iccid_is_reconciled_by_its_request_id(
    handler, world, carrier, sessionmaker
):
    # No listener registered: the simulator's own callback is dropped, ours stands in for it.
    device = world.devices[0]
    await _active(carrier, [device])
    new = make_iccid(unique_id() * 1000 + 3)
    messages = await add_changes(
        sessionmaker, world, ChangeType.CHANGE_ICCID_OR_IMEI, [(device, _iccid_change(device, new))]
    )
    await run(handler, messages)
    (waiting,) = await settle(sessionmaker, messages, until=frozenset({"AwaitingCallback"}))

    payload = _success(waiting.carrier_request_id, new, None, new)
    await deliver(sessionmaker, world.provider.id, payload)
    await deliver(sessionmaker, world.provider.id, {**payload, "callbackCount": 2})  # a repeat

    (change,) = await settle(sessionmaker, messages)
    assert change.status == "Success"
    assert (await devices_by_id(sessionmaker, [device.id]))[device.id].iccid == new
    assert len(await _history(sessionmaker, device.id)) == 1


async def test_a_callback_naming_the_old_iccid_or_only_the_imei_is_reconciled_too(
    handler, world, carrier, sessionmaker
):
    first, second, _ = world.devices
    await _active(carrier, [first, second])
    new_first, new_second = (make_iccid(unique_id() * 1000 + n) for n in (4, 5))
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.CHANGE_ICCID_OR_IMEI,
        [(first, _iccid_change(first, new_first)), (second, _iccid_change(second, new_second))],
    )
    await run(handler, messages)
    one, two = await settle(sessionmaker, messages, until=frozenset({"AwaitingCallback"}))

    await deliver(
        sessionmaker,
        world.provider.id,
        _success(one.carrier_request_id, first.iccid, first.imei, new_first),
    )
    only_imei = _success(two.carrier_request_id, second.iccid, second.imei, new_second)
    only_imei["deviceIds"] = [{"id": second.imei, "kind": "IMEI"}]
    await deliver(sessionmaker, world.provider.id, only_imei)

    assert [dc.status for dc in await settle(sessionmaker, messages)] == ["Success", "Success"]
    devices = await devices_by_id(sessionmaker, [first.id, second.id])
    assert (devices[first.id].iccid, devices[second.id].iccid) == (new_first, new_second)


async def test_carrier_refuses_a_new_iccid_another_device_has(
    handler, world, carrier, listening, sessionmaker
):
    device, other, _ = world.devices
    await _active(carrier, [device])  # `other` stays preactive at the carrier, with its ICCID
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.CHANGE_ICCID_OR_IMEI,
        [(device, _iccid_change(device, other.iccid))],
    )

    await run(handler, messages)
    (change,) = await settle(sessionmaker, messages)

    assert change.status == "Failed"
    assert change.error_code == "UnifiedWebService.REQUEST_FAILED.Device.Identifier.InUse"
    assert (await devices_by_id(sessionmaker, [device.id]))[device.id].iccid == device.iccid
    assert await _history(sessionmaker, device.id) == []


async def test_confirmed_change_to_an_iccid_our_inventory_has_fails_for_a_person_to_fix(
    handler, world, carrier, sessionmaker, factory
):
    device = world.devices[0]
    await _active(carrier, [device])
    new = make_iccid(unique_id() * 1000 + 6)
    messages = await add_changes(
        sessionmaker, world, ChangeType.CHANGE_ICCID_OR_IMEI, [(device, _iccid_change(device, new))]
    )
    await run(handler, messages)
    (waiting,) = await settle(sessionmaker, messages, until=frozenset({"AwaitingCallback"}))
    # Meanwhile someone imported a device with the new ICCID.
    async with sessionmaker() as s, s.begin():
        s.add(Device(tenant_id=world.tenant.id, service_provider_id=world.provider.id, iccid=new))

    await deliver(
        sessionmaker,
        world.provider.id,
        _success(waiting.carrier_request_id, device.iccid, device.imei, new),
    )

    (change,) = await settle(sessionmaker, messages)
    assert (change.status, change.error_code) == ("Failed", "IdentifierChange.InUse")
    assert new in change.error_message
    assert (await devices_by_id(sessionmaker, [device.id]))[device.id].iccid == device.iccid
