"""The primary place of use of an active device (PUT /devices/actions/contactInfo), and the one
given at activation."""

from sim_helpers import ACCOUNT, TS, dev

ICCID, IMEI = "89148000000000000011", "350000000000011"
PLACE = {
    "address": {
        "addressLine1": "9868 Scranton Rd",
        "city": "San Diego",
        "state": "CA",
        "zip": "92121",
        "country": "USA",
    },
    "customerName": {"firstName": "Ada", "lastName": "Field"},
}


async def test_place_of_use_of_an_active_device_is_replaced_by_callback(ts: TS) -> None:
    await ts.seed_devices({"iccid": ICCID, "imei": IMEI, "state": "active", "servicePlan": "P"})

    answer = await ts.call(
        "PUT",
        "/devices/actions/contactInfo",
        json={"accountName": ACCOUNT, "devices": [dev(ICCID)], "primaryPlaceOfUse": PLACE},
    )
    [callback] = await ts.listener.wait_for(1, requestId=answer.json()["requestId"])

    assert answer.status_code == 200 and set(answer.json()) == {"requestId"}
    assert callback["status"] == "Success"
    assert callback["deviceResponse"]["contactInfoResponse"]["primaryPlaceOfUse"] == PLACE
    device = await ts.device(ICCID)
    assert device["primaryPlaceOfUse"] == PLACE and device["state"] == "active"


async def test_place_of_use_update_refuses_a_device_not_in_service(ts: TS) -> None:
    await ts.seed_devices({"iccid": ICCID, "state": "preactive"})

    answer = await ts.call(
        "PUT",
        "/devices/actions/contactInfo",
        json={"devices": [dev(ICCID), dev("1234")], "primaryPlaceOfUse": PLACE},
    )
    callbacks = await ts.listener.wait_for(2, requestId=answer.json()["requestId"])

    faults = {c["deviceIds"][0]["id"]: c["faultResponse"]["faultcode"] for c in callbacks}
    assert faults == {
        ICCID: "UnifiedWebService.REQUEST_FAILED.DeviceState.Invalid",
        "1234": "UnifiedWebService.REQUEST_FAILED.DeviceNotFound",
    }
    assert (await ts.device(ICCID))["primaryPlaceOfUse"] is None


async def test_place_of_use_update_without_an_address_answers_400(ts: TS) -> None:
    await ts.seed_devices({"iccid": ICCID, "state": "active", "servicePlan": "P"})

    missing = await ts.call("PUT", "/devices/actions/contactInfo", json={"devices": [dev(ICCID)]})
    partial = await ts.call(
        "PUT",
        "/devices/actions/contactInfo",
        json={
            "devices": [dev(ICCID)],
            "primaryPlaceOfUse": {"address": {"city": "X"}, "customerName": {}},
        },
    )

    assert missing.status_code == 400
    assert (
        missing.json()["errorCode"] == "UnifiedWebService.INPUT_INVALID.PrimaryPlaceOfUse.Missing"
    )
    assert (
        partial.json()["errorCode"] == "UnifiedWebService.INPUT_INVALID.PrimaryPlaceOfUse.Invalid"
    )
    assert ts.listener.received == []


async def test_activation_keeps_the_place_of_use_it_was_given(ts: TS) -> None:
    await ts.seed_devices({"iccid": ICCID, "state": "preactive"})

    answer = await ts.call(
        "POST",
        "/devices/actions/activate",
        json={
            "servicePlan": "M2M_4G",
            "mdnZipCode": "92121",
            "devices": [dev(ICCID)],
            "primaryPlaceOfUse": PLACE,
        },
    )
    await ts.listener.wait_for(1, requestId=answer.json()["requestId"])

    assert (await ts.device(ICCID))["primaryPlaceOfUse"] == PLACE


async def test_deleting_refuses_a_device_that_is_not_deactivated(ts: TS) -> None:
    await ts.seed_devices(
        {"iccid": ICCID, "state": "deactive"},
        {"iccid": "1002", "state": "active", "servicePlan": "P"},
    )

    answer = await ts.call(
        "POST", "/devices/actions/delete", json={"devicesToDelete": [dev(ICCID), dev("1002")]}
    )
    too_many = await ts.call(
        "POST",
        "/devices/actions/delete",
        json={"devicesToDelete": [dev(str(n)) for n in range(1, 102)]},
    )

    outcomes = {item["deviceIds"][0]["id"]: item["status"] for item in answer.json()}
    assert outcomes == {ICCID: "Success", "1002": "Failed"}
    assert (await ts.device("1002"))["state"] == "active"
    assert too_many.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.MaxRequestsExceeded"
