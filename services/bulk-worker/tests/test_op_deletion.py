"""Device deletion: deactivated devices only, at most 100 a request, answered per device."""

from __future__ import annotations

from change_helpers import add_changes, changes_of, devices_by_id, run, settle, steps_of

from devicebulk_common.contracts import ChangeType, DeviceStatus
from devicebulk_common.models import DeviceChange

DELETE_CALL = "POST /api/m2m/v1/devices/actions/delete"
DELETE = {"op": "delete"}


async def test_deactivated_devices_are_deleted_and_an_active_one_is_refused(
    handler, world, carrier, sessionmaker
):
    gone, also_gone, still_active = world.devices
    await carrier.seed(
        [{"iccid": d.iccid, "imei": d.imei, "state": "deactive"} for d in (gone, also_gone)]
        + [{"iccid": still_active.iccid, "state": "active", "servicePlan": "M2M_4G"}]
    )
    before = await carrier.calls(DELETE_CALL)
    messages = await add_changes(
        sessionmaker, world, ChangeType.DEVICE_DELETION, [(d, DELETE) for d in world.devices]
    )

    await run(handler, messages)
    changes = await changes_of(sessionmaker, messages)

    assert [dc.status for dc in changes] == ["Success", "Success", "Failed"]
    assert changes[2].error_code == "delete.Failed"
    assert "active" in changes[2].error_message
    assert await carrier.calls(DELETE_CALL) == before + 1
    devices = await devices_by_id(sessionmaker, [d.id for d in world.devices])
    for device in (gone, also_gone):
        stored = devices[device.id]
        assert stored.status == DeviceStatus.NOT_PROVISIONED
        assert (stored.is_deleted, stored.is_active) == (True, False)
    assert devices[still_active.id].is_deleted is False
    assert (await carrier.http.get(f"/_sim/devices/{gone.iccid}")).status_code == 404
    steps = await steps_of(sessionmaker, changes[0].id)
    assert [(s.step, s.status) for s in steps] == [
        ("attempt", "Processing"),
        ("carrier:delete", "Success"),
    ]
    assert steps[1].http_url.endswith("/devices/actions/delete") and steps[1].request_text


async def test_a_hundred_and_fifty_devices_take_two_requests(
    handler, world, carrier, sessionmaker, factory
):
    devices = await factory.devices(world.tenant, world.provider, 150)
    await carrier.seed([{"iccid": d.iccid, "state": "deactive"} for d in devices])
    before = await carrier.calls(DELETE_CALL)
    messages = await add_changes(
        sessionmaker, world, ChangeType.DEVICE_DELETION, [(d, DELETE) for d in devices]
    )

    await run(handler, messages)

    assert {dc.status for dc in await changes_of(sessionmaker, messages)} == {"Success"}
    assert await carrier.calls(DELETE_CALL) == before + 2


async def test_interrupted_deletion_of_a_device_the_carrier_no_longer_lists_is_done(
    handler, world, carrier, sessionmaker
):
    device = world.devices[0]
    await carrier.seed([{"iccid": device.iccid, "state": "deactive"}])
    messages = await add_changes(
        sessionmaker, world, ChangeType.DEVICE_DELETION, [(device, DELETE)]
    )
    # The first attempt deleted the device at the carrier; the process died before recording it.
    lost = await add_changes(sessionmaker, world, ChangeType.DEVICE_DELETION, [(device, DELETE)])
    await run(handler, lost)
    async with sessionmaker() as s, s.begin():
        (await s.get(DeviceChange, messages[0].device_change_id)).status = "Processing"
    before = await carrier.calls(DELETE_CALL)

    await run(handler, messages)

    (change,) = await settle(sessionmaker, messages)
    assert change.status == "Success"
    assert await carrier.calls(DELETE_CALL) == before
    assert [s.step for s in await steps_of(sessionmaker, change.id)] == ["attempt", "resume-check"]
