"""ChangeType 6: the username into a custom field, then the cost center: two carrier requests,
one device change that ends Success only once both are confirmed."""

from __future__ import annotations

from change_helpers import add_changes, changes_of, devices_by_id, run, settle, steps_of
from sqlalchemy import update

from devicebulk_common.contracts import ChangeType
from devicebulk_common.models import ServiceProvider
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.handler import DeviceChangeHandler

FIELDS = "PUT /api/m2m/v1/devices/actions/customFields"
COST = "PUT /api/m2m/v1/devices/costCenter"
QUEUED = frozenset({"Queued"})


def _edit(username: str | None, cost_center: str | None) -> dict:
    return {"op": "edit_username", "username": username, "cost_center": cost_center}


async def _carrier_view(carrier, iccid: str) -> dict:
    return (await carrier.http.get(f"/_sim/devices/{iccid}")).json()


async def test_username_then_cost_center_each_confirmed_before_success(
    handler, world, carrier, listening, sessionmaker
):
    before = (await carrier.calls(FIELDS), await carrier.calls(COST))
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.EDIT_USERNAME,
        [(d, _edit("DEVICE_001", "DEPT_SALES_001")) for d in world.devices],
    )

    await run(handler, messages)
    halfway = await settle(sessionmaker, messages, until=QUEUED)

    # The first callback confirmed the username and queued the cost center (the relay would
    # publish it again; here we deliver it ourselves).
    assert all(dc.params["phase"] == "cost_center" for dc in halfway)
    assert all(dc.carrier_request_id is None and dc.published_at is None for dc in halfway)
    assert all(dc.attempts == 0 and dc.completed_at is None for dc in halfway)
    devices = await devices_by_id(sessionmaker, [d.id for d in world.devices])
    assert {(d.username, d.cost_center) for d in devices.values()} == {("DEVICE_001", None)}

    await run(handler, messages)
    changes = await settle(sessionmaker, messages)

    assert [dc.status for dc in changes] == ["Success"] * 3
    assert changes[0].result == {"username": "DEVICE_001", "cost_center": "DEPT_SALES_001"}
    assert (await carrier.calls(FIELDS), await carrier.calls(COST)) == (
        before[0] + 1,
        before[1] + 1,
    )
    devices = await devices_by_id(sessionmaker, [d.id for d in world.devices])
    assert {(d.username, d.cost_center) for d in devices.values()} == {
        ("DEVICE_001", "DEPT_SALES_001")
    }
    at_carrier = await _carrier_view(carrier, world.devices[0].iccid)
    assert at_carrier["customFields"] == [{"key": "CustomField1", "value": "DEVICE_001"}]
    assert at_carrier["costCenterCode"] == "DEPT_SALES_001"
    steps = [(s.step, s.status) for s in await steps_of(sessionmaker, changes[0].id)]
    assert steps == [
        ("attempt", "Processing"),
        ("carrier:edit_username", "AwaitingCallback"),
        ("callback", "Queued"),
        ("attempt", "Processing"),
        ("carrier:edit_username", "AwaitingCallback"),
        ("callback", "Success"),
    ]
    calls = [s for s in await steps_of(sessionmaker, changes[0].id) if s.http_url]
    assert [c.http_url.rsplit("/", 1)[-1] for c in calls] == ["customFields", "costCenter"]


async def test_the_username_goes_into_the_configured_custom_field(
    world, carrier, listening, sessionmaker, credentials_key
):
    device = world.devices[0]
    adapters = AdapterPool(
        credentials_key=credentials_key,
        timeout_s=5.0,
        options={"thingspace": {"username_field": "CustomField3"}},
    )
    try:
        messages = await add_changes(
            sessionmaker, world, ChangeType.EDIT_USERNAME, [(device, _edit("alice", None))]
        )
        await run(DeviceChangeHandler(sessionmaker, adapters), messages)
        (change,) = await settle(sessionmaker, messages)
    finally:
        await adapters.aclose()

    assert change.status == "Success" and change.result == {"username": "alice"}
    at_carrier = await _carrier_view(carrier, device.iccid)
    assert at_carrier["customFields"] == [{"key": "CustomField3", "value": "alice"}]


async def _set_options(sessionmaker, provider_id: int, options: dict) -> None:
    async with sessionmaker() as s, s.begin():
        await s.execute(
            update(ServiceProvider)
            .where(ServiceProvider.id == provider_id)
            .values(carrier_options=options)
        )


async def test_the_providers_own_username_field_wins_and_an_edit_takes_effect(
    world, carrier, listening, sessionmaker, credentials_key
):
    """The provider's stored option beats the worker's default (WORKER_USERNAME_CUSTOM_FIELD),
    and an edited option gets a fresh adapter (no restart)."""
    device = world.devices[0]
    adapters = AdapterPool(
        credentials_key=credentials_key,
        timeout_s=5.0,
        options={"thingspace": {"username_field": "CustomField3"}},
    )
    handler = DeviceChangeHandler(sessionmaker, adapters)
    seen = []
    try:
        for field, name in (("CustomField4", "carol"), ("CustomField2", "dave")):
            await _set_options(sessionmaker, world.provider.id, {"username_field": field})
            messages = await add_changes(
                sessionmaker, world, ChangeType.EDIT_USERNAME, [(device, _edit(name, None))]
            )
            await run(handler, messages)
            (change,) = await settle(sessionmaker, messages)
            assert change.status == "Success", (change.error_code, change.error_message)
            seen.append((await _carrier_view(carrier, device.iccid))["customFields"])
    finally:
        await adapters.aclose()
        await _set_options(sessionmaker, world.provider.id, {})

    assert {"key": "CustomField4", "value": "carol"} in seen[0]
    assert {"key": "CustomField2", "value": "dave"} in seen[1]
    assert not [f for fields in seen for f in fields if f["key"] == "CustomField3"]


async def test_a_cost_center_alone_is_one_request(handler, world, carrier, listening, sessionmaker):
    before = await carrier.calls(FIELDS)
    messages = await add_changes(
        sessionmaker, world, ChangeType.EDIT_USERNAME, [(world.devices[0], _edit(None, "CC-9"))]
    )

    await run(handler, messages)
    (change,) = await settle(sessionmaker, messages)

    assert change.status == "Success" and change.result == {"cost_center": "CC-9"}
    assert await carrier.calls(FIELDS) == before
    stored = (await devices_by_id(sessionmaker, [world.devices[0].id]))[world.devices[0].id]
    assert (stored.username, stored.cost_center) == (None, "CC-9")


async def test_a_refused_second_step_fails_the_device_with_the_carriers_code(
    handler, world, carrier, listening, sessionmaker
):
    device = world.devices[0]
    messages = await add_changes(
        sessionmaker, world, ChangeType.EDIT_USERNAME, [(device, _edit("bob", "CC-1"))]
    )
    await run(handler, messages)
    await settle(sessionmaker, messages, until=QUEUED)
    # Meanwhile the device moved to another account: the carrier no longer finds it in ours.
    other = f"{carrier.account}-other"
    await carrier.http.post(
        "/_sim/accounts",
        json={
            "accountName": other,
            "client_key": other,
            "client_secret": "s",
            "username": other,
            "password": "p",
        },
    )
    moved = {"accountName": other, "devices": [{"iccid": device.iccid, "state": "active"}]}
    (await carrier.http.post("/_sim/devices", json=moved)).raise_for_status()

    await run(handler, messages)
    (change,) = await settle(sessionmaker, messages)

    assert change.status == "Failed"
    assert change.error_code == "UnifiedWebService.REQUEST_FAILED.DeviceNotFound"
    stored = (await devices_by_id(sessionmaker, [device.id]))[device.id]
    assert (stored.username, stored.cost_center) == ("bob", None)


async def test_a_username_the_carrier_cannot_hold_fails_before_any_call(
    handler, world, carrier, listening, sessionmaker
):
    before = await carrier.calls(FIELDS)
    messages = await add_changes(
        sessionmaker, world, ChangeType.EDIT_USERNAME, [(world.devices[0], _edit("x" * 51, None))]
    )

    await run(handler, messages)
    (change,) = await changes_of(sessionmaker, messages)

    assert (change.status, change.error_code) == ("Failed", "Request.Invalid")
    assert "50" in change.error_message
    assert await carrier.calls(FIELDS) == before


async def test_nothing_to_change_fails_with_a_reason(handler, world, sessionmaker, carrier):
    messages = await add_changes(
        sessionmaker, world, ChangeType.EDIT_USERNAME, [(world.devices[0], _edit(None, None))]
    )

    await run(handler, messages)
    (change,) = await changes_of(sessionmaker, messages)

    assert change.status == "Failed" and "username or a cost center" in change.error_message
