"""Updating an active device's primary place of use: an UNCONFIRMED call, kept in the adapter."""

from devicebulk_common.carriers import DeviceRef, PlaceOfUse

from .helpers import ACCOUNT, DEVICE, accepted, body_of, thingspace

PLACE = PlaceOfUse(
    address_line1="9868 Scranton Rd",
    city="San Diego",
    state="CA",
    zip="92121",
    country="USA",
    first_name="Ada",
    last_name="Field",
)


async def test_place_of_use_update_sends_devices_and_the_new_address():
    async with thingspace() as ts:
        route = ts.router.put("/m2m/v1/devices/actions/contactInfo").mock(
            return_value=accepted("ppu-1")
        )
        result = await ts.adapter.update_place_of_use([DEVICE], PLACE)

    assert result.request_id == "ppu-1"
    assert result.exchange.operation == "update_place_of_use"
    assert body_of(route) == {
        "accountName": ACCOUNT,
        "devices": [
            {
                "deviceIds": [
                    {"kind": "iccid", "id": DEVICE.iccid},
                    {"kind": "imei", "id": DEVICE.imei},
                ]
            }
        ],
        "primaryPlaceOfUse": {
            "address": {
                "addressLine1": "9868 Scranton Rd",
                "city": "San Diego",
                "state": "CA",
                "zip": "92121",
                "country": "USA",
            },
            "customerName": {"firstName": "Ada", "lastName": "Field"},
        },
    }


async def test_place_of_use_path_is_configurable():
    async with thingspace(place_of_use_path="/devices/actions/ppu") as ts:
        route = ts.router.put("/m2m/v1/devices/actions/ppu").mock(return_value=accepted())
        await ts.adapter.update_place_of_use([DeviceRef(iccid="89148000000000000002")], PLACE)

    assert route.call_count == 1
