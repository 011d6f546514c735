"""ChangeType 7: the carrier's service plan, confirmed by callback."""

from __future__ import annotations

from change_helpers import add_changes, devices_by_id, run, settle, steps_of

from devicebulk_common.contracts import ChangeType, DeviceStatus
from devicebulk_common.models import DeviceChange

PLAN_CALL = "PUT /api/m2m/v1/devices/actions/plan"


async def _active(carrier, devices, **extra) -> None:
    await carrier.seed(
        [
            {"iccid": d.iccid, "imei": d.imei, "state": "active", "servicePlan": "M2M_4G", **extra}
            for d in devices
        ]
    )


def _plan(plan: str, current: str | None = "M2M_4G") -> dict:
    return {"op": "change_plan", "service_plan": plan, "current_service_plan": current}


async def test_devices_going_to_the_same_plan_share_one_request_and_take_it_on_callback(
    handler, world, carrier, listening, sessionmaker
):
    await _active(carrier, world.devices)
    before = await carrier.calls(PLAN_CALL)
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.CARRIER_RATE_PLAN_CHANGE,
        [(d, _plan("M2M_5G")) for d in world.devices],
    )

    await run(handler, messages)
    changes = await settle(sessionmaker, messages)

    assert [dc.status for dc in changes] == ["Success"] * 3
    assert await carrier.calls(PLAN_CALL) == before + 1
    assert len({dc.carrier_request_id for dc in changes}) == 1
    devices = await devices_by_id(sessionmaker, [d.id for d in world.devices])
    assert {d.carrier_rate_plan for d in devices.values()} == {"M2M_5G"}
    listed = (await carrier.http.get(f"/_sim/devices/{world.devices[0].iccid}")).json()
    assert listed["servicePlan"] == "M2M_5G"
    steps = [(s.step, s.status) for s in await steps_of(sessionmaker, changes[0].id)]
    assert steps == [
        ("attempt", "Processing"),
        ("carrier:change_plan", "AwaitingCallback"),
        ("callback", "Success"),
    ]


async def test_one_request_a_target_plan_whatever_plan_the_devices_come_from(
    handler, world, carrier, listening, sessionmaker
):
    await _active(carrier, world.devices)
    before = await carrier.calls(PLAN_CALL)
    a, b, c = world.devices
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.CARRIER_RATE_PLAN_CHANGE,
        [(a, _plan("P1")), (b, _plan("P2")), (c, _plan("P1", current="OTHER"))],
    )

    await run(handler, messages)
    changes = await settle(sessionmaker, messages)

    assert [dc.status for dc in changes] == ["Success"] * 3
    assert await carrier.calls(PLAN_CALL) == before + 2
    assert changes[0].carrier_request_id == changes[2].carrier_request_id
    # currentServicePlan is a filter at ThingSpace: never sent from a record that may be stale.
    [call] = [s for s in await steps_of(sessionmaker, changes[0].id) if s.http_url]
    assert "currentServicePlan" not in call.request_text


async def test_carrier_refusals_fail_the_device_with_its_code_and_leave_the_plan(
    handler, world, carrier, listening, sessionmaker
):
    suspended, worn_out, fine = world.devices
    await _active(carrier, [fine])
    await _active(carrier, [worn_out], planChangesThisMonth=4)
    await carrier.seed([{"iccid": suspended.iccid, "state": "suspend", "servicePlan": "M2M_4G"}])
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.CARRIER_RATE_PLAN_CHANGE,
        [(d, _plan("M2M_5G")) for d in world.devices],
    )

    await run(handler, messages)
    changes = await settle(sessionmaker, messages)

    assert [(dc.status, dc.error_code) for dc in changes] == [
        ("Failed", "UnifiedWebService.REQUEST_FAILED.DeviceState.Invalid"),
        ("Failed", "UnifiedWebService.REQUEST_FAILED.ServicePlan.ChangeLimitExceeded"),
        ("Success", None),
    ]
    assert all(dc.error_message for dc in changes[:2])
    devices = await devices_by_id(sessionmaker, [d.id for d in world.devices])
    assert devices[suspended.id].carrier_rate_plan == "M2M_4G"
    assert devices[worn_out.id].carrier_rate_plan == "M2M_4G"
    assert devices[fine.id].carrier_rate_plan == "M2M_5G"


async def test_interrupted_plan_change_the_carrier_already_shows_is_not_sent_again(
    handler, world, carrier, sessionmaker
):
    device = world.devices[0]
    await carrier.seed([{"iccid": device.iccid, "state": "active", "servicePlan": "M2M_5G"}])
    (message,) = await add_changes(
        sessionmaker, world, ChangeType.CARRIER_RATE_PLAN_CHANGE, [(device, _plan("M2M_5G"))]
    )
    async with sessionmaker() as s, s.begin():
        (await s.get(DeviceChange, message.device_change_id)).status = "Processing"
    before = await carrier.calls(PLAN_CALL)

    await handler(message)

    (change,) = await settle(sessionmaker, [message])
    assert change.status == "Success"
    assert await carrier.calls(PLAN_CALL) == before
    steps = [s.step for s in await steps_of(sessionmaker, change.id)]
    assert steps == ["attempt", "resume-check"]
    assert DeviceStatus(device.status)  # the device record itself is untouched here
