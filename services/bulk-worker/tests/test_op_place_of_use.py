"""StatusUpdate to Active for a device already active: only its place of use is sent again."""

from __future__ import annotations

import pytest
from change_helpers import add_changes, changes_of, run, settle, steps_of

from devicebulk_common.contracts import ChangeType

CALL = "PUT /api/m2m/v1/devices/actions/contactInfo"
ACTIVATE_CALL = "POST /api/m2m/v1/devices/actions/activate"
PLACE = {
    "Address": {
        "AddressLine1": "9868 Scranton Rd",
        "City": "San Diego",
        "State": "CA",
        "Zip": "92121",
        "Country": "USA",
    },
    "CustomerName": {"FirstName": "Ada", "LastName": "Field"},
}


def _activation(place: dict | None) -> dict:
    ts = {"ServicePlan": "M2M_4G", "ZipCode": "92121"}
    if place is not None:
        ts["PrimaryPlaceOfUse"] = place
    return {"StatusUpdate": {"TargetStatus": "Active", "ThingSpaceStatusUpdate": ts}}


STORED = {
    "address_line1": "9868 Scranton Rd",
    "city": "San Diego",
    "state": "CA",
    "zip": "92121",
    "country": "USA",
    "first_name": "Ada",
    "last_name": "Field",
}


# "params": as intake stores it now (the worker reads no request); "legacy": a device change
# stored before the parameters moved into params (the worker reads the request once more).
@pytest.mark.parametrize("stored", ["params", "legacy"])
async def test_already_active_devices_get_their_place_of_use_in_one_request(
    stored, handler, world, carrier, listening, sessionmaker
):
    await carrier.seed(
        [{"iccid": d.iccid, "state": "active", "servicePlan": "M2M_4G"} for d in world.devices]
    )
    before = (await carrier.calls(CALL), await carrier.calls(ACTIVATE_CALL))
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.STATUS_UPDATE,
        [
            (d, {"op": "update_place_of_use", "place_of_use": STORED})
            if stored == "params"
            else (d, {"op": "update_place_of_use"})
            for d in world.devices
        ],
        request=_activation(PLACE) if stored == "legacy" else {"ChangeType": 3},
    )

    await run(handler, messages)
    changes = await settle(sessionmaker, messages)

    assert [dc.status for dc in changes] == ["Success"] * 3
    assert (await carrier.calls(CALL), await carrier.calls(ACTIVATE_CALL)) == (
        before[0] + 1,
        before[1],
    )
    at_carrier = (await carrier.http.get(f"/_sim/devices/{world.devices[0].iccid}")).json()
    assert at_carrier["state"] == "active"
    assert at_carrier["primaryPlaceOfUse"]["address"]["addressLine1"] == "9868 Scranton Rd"
    [call] = [s for s in await steps_of(sessionmaker, changes[0].id) if s.http_url]
    assert call.step == "carrier:update_place_of_use" and "Scranton" in call.request_text


async def test_already_active_device_without_a_place_of_use_fails_with_a_reason(
    handler, world, carrier, sessionmaker
):
    before = await carrier.calls(CALL)
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.STATUS_UPDATE,
        [(world.devices[0], {"op": "update_place_of_use"})],
        request=_activation(None),
    )

    await run(handler, messages)
    (change,) = await changes_of(sessionmaker, messages)

    assert (change.status, change.error_code) == ("Failed", "PlaceOfUse.Missing")
    assert await carrier.calls(CALL) == before
