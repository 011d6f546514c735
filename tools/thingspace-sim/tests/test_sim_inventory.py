from sim_helpers import ACCOUNT, TS, dev


async def test_add_and_delete_answer_synchronously_per_device(ts: TS) -> None:
    await ts.seed_devices({"iccid": "3001", "state": "deactive"})

    added = await ts.call(
        "POST",
        "/devices/actions/add",
        json={"state": "preactive", "devicesToAdd": [dev("2001", "3500001"), dev("3001")]},
    )
    deleted = await ts.call(
        "POST", "/devices/actions/delete", json={"devicesToDelete": [dev("2001"), dev("3001")]}
    )

    assert added.status_code == 200
    assert [r["response"] for r in added.json()] == ["Success", "Failed"]
    assert added.json()[0]["deviceIds"] == [
        {"kind": "iccid", "id": "2001"},
        {"kind": "imei", "id": "3500001"},
    ]
    assert (await ts.device("2001"))["state"] == "preactive"
    assert [r["status"] for r in deleted.json()] == ["Failed", "Success"]
    remaining = (await ts.listed(accountName=ACCOUNT))["devices"]
    assert [d["deviceIds"][0]["id"] for d in remaining] == ["2001"]
    assert ts.listener.received == []


async def test_delete_refuses_more_than_100_devices(ts: TS) -> None:
    response = await ts.call(
        "POST",
        "/devices/actions/delete",
        json={"devicesToDelete": [dev(str(n)) for n in range(1, 102)]},
    )

    assert response.status_code == 400
    assert response.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.MaxRequestsExceeded"


async def test_device_list_pages_by_largest_iccid_seen(ts: TS) -> None:
    iccids = [f"8914800000000000{n:04d}" for n in range(7)]
    await ts.seed_devices(*({"iccid": i, "state": "preactive"} for i in reversed(iccids)))
    await ts.admin("PATCH", "/config", json={"page_size": 3})
    pages, seen = [], None
    while True:
        body = {"accountName": ACCOUNT}
        if seen:
            body["largestDeviceIdSeen"] = seen
        page = await ts.listed(**body)
        ids = [d["deviceIds"][0]["id"] for d in page["devices"]]
        pages.append(ids)
        if not page["hasMoreData"]:
            break
        seen = ids[-1]

    assert pages == [iccids[0:3], iccids[3:6], iccids[6:7]]


async def test_device_list_filters_by_state_and_device_id(ts: TS) -> None:
    await ts.seed_devices(
        {"iccid": "11", "imei": "21", "state": "active", "servicePlan": "P"},
        {"iccid": "12", "state": "suspend", "servicePlan": "P"},
    )

    by_state = await ts.listed(accountName=ACCOUNT, currentState="suspend")
    by_imei = await ts.listed(accountName=ACCOUNT, deviceId={"kind": "IMEI", "id": "21"})

    assert [d["deviceIds"][0]["id"] for d in by_state["devices"]] == ["12"]
    [device] = by_imei["devices"]
    kinds = [i["kind"] for i in device["deviceIds"]]
    assert kinds == ["iccid", "imei", "mdn", "msisdn"]
    assert set(device) >= {
        "carrierInformations",
        "customFields",
        "lastActivationDate",
        "lastConnectionDate",
        "connected",
        "costCenterCode",
    }


async def test_callback_listeners_register_list_and_delete(ts: TS) -> None:
    url = "http://127.0.0.1:1/other"
    body = {"name": "CarrierService", "url": url, "username": "u", "password": "p"}

    registered = await ts.call("POST", f"/callbacks/{ACCOUNT}", json=body)
    listed = await ts.call("GET", f"/callbacks/{ACCOUNT}")
    deleted = await ts.call("DELETE", f"/callbacks/{ACCOUNT}/name/CarrierService")
    unknown = await ts.call("GET", "/callbacks/not-mine")

    assert registered.json() == {"accountName": ACCOUNT, "name": "CarrierService"}
    assert listed.json() == [{"accountName": ACCOUNT, "name": "CarrierService", "url": url}]
    assert deleted.status_code == 200
    assert (await ts.call("GET", f"/callbacks/{ACCOUNT}")).json() == []
    assert unknown.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.AccountNotFound"
