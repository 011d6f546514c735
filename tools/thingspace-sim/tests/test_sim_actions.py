from sim_helpers import ACCOUNT, CB_PASS, CB_USER, TS, dev

ICCID, IMEI = "89148000000000000011", "350000000000011"
ACTIVATE = {"servicePlan": "M2M_4G", "mdnZipCode": "94105", "accountName": ACCOUNT}


def states(listing: dict) -> dict[str, str]:
    return {
        next(i["id"] for i in d["deviceIds"] if i["kind"] == "iccid"): d["carrierInformations"][0][
            "state"
        ]
        for d in listing["devices"]
    }


async def test_activation_is_pending_until_its_callback_then_active_with_mdn(ts: TS) -> None:
    await ts.seed_devices({"iccid": ICCID, "imei": IMEI, "state": "preactive"})
    await ts.admin("PATCH", "/config", json={"callback_delay": 0.3})

    answer = await ts.call(
        "POST", "/devices/actions/activate", json={**ACTIVATE, "devices": [dev(ICCID, IMEI)]}
    )
    request_id = answer.json()["requestId"]
    during = await ts.listed(accountName=ACCOUNT)
    [callback] = await ts.listener.wait_for(1, requestId=request_id)
    after = await ts.listed(accountName=ACCOUNT)

    assert answer.status_code == 200 and set(answer.json()) == {"requestId"}
    assert states(during) == {ICCID: "pending activation"}
    response_ids = callback["deviceResponse"]["activateResponse"]["deviceIds"]
    mdn = next(i["id"] for i in response_ids if i["kind"] == "mdn")
    assert {"kind": "msisdn", "id": f"1{mdn}"} in response_ids
    assert len(mdn) == 10 and mdn.isdigit()
    assert callback == {
        "username": CB_USER,
        "password": CB_PASS,
        "requestId": request_id,
        "deviceIds": [{"id": ICCID, "kind": "Iccid"}, {"id": IMEI, "kind": "Imei"}],
        "deviceResponse": {"activateResponse": {"deviceIds": response_ids}},
        "status": "Success",
        "callbackCount": 1,
        "maxCallbackThreshold": 4,
    }
    [device] = after["devices"]
    assert device["carrierInformations"] == [
        {"carrierName": "Verizon Wireless", "servicePlan": "M2M_4G", "state": "active"}
    ]
    assert {"kind": "mdn", "id": mdn} in device["deviceIds"]
    assert device["lastActivationDate"]
    status = await ts.call("GET", f"/accounts/{ACCOUNT}/requests/{request_id}/status")
    assert status.json() == {"requestId": request_id, "status": "Success"}


async def test_activating_an_active_device_fails_by_callback(ts: TS) -> None:
    await ts.seed_devices({"iccid": ICCID, "imei": IMEI, "state": "active", "servicePlan": "P"})
    before = await ts.device(ICCID)

    answer = await ts.call(
        "POST", "/devices/actions/activate", json={**ACTIVATE, "devices": [dev(ICCID)]}
    )
    [callback] = await ts.listener.wait_for(1, requestId=answer.json()["requestId"])

    assert answer.status_code == 200
    assert callback["status"] == "Failed"
    assert callback["faultResponse"]["faultcode"] == (
        "UnifiedWebService.REQUEST_FAILED.DeviceAlreadyActive"
    )
    assert "deviceResponse" not in callback
    assert (await ts.device(ICCID))["mdn"] == before["mdn"]


async def test_unknown_device_and_wrong_state_fail_per_device(ts: TS) -> None:
    await ts.seed_devices(
        {"iccid": "1001", "state": "active", "servicePlan": "P"},
        {"iccid": "1002", "state": "suspend", "servicePlan": "P"},
    )

    answer = await ts.call(
        "POST", "/devices/actions/suspend", json={"devices": [dev("1001"), dev("1002"), dev("9")]}
    )
    callbacks = await ts.listener.wait_for(3, requestId=answer.json()["requestId"])

    by_iccid = {c["deviceIds"][0]["id"]: c for c in callbacks}
    assert by_iccid["1001"]["status"] == "Success"
    assert by_iccid["1002"]["faultResponse"]["faultcode"].endswith("DeviceState.Invalid")
    assert by_iccid["9"]["faultResponse"]["faultcode"].endswith("DeviceNotFound")
    assert (await ts.device("1001"))["state"] == "suspend"


async def test_suspend_restore_deactivate_reactivate_cycle(ts: TS) -> None:
    await ts.seed_devices({"iccid": ICCID, "state": "active", "servicePlan": "P"})
    first_mdn = (await ts.device(ICCID))["mdn"]
    steps = [
        ("suspend", {}, "suspend"),
        ("restore", {}, "active"),
        ("deactivate", {"accountName": ACCOUNT, "reasonCode": "FF"}, "deactive"),
        ("activate", ACTIVATE, "active"),
    ]
    for action, extra, expected in steps:
        answer = await ts.call(
            "POST", f"/devices/actions/{action}", json={**extra, "devices": [dev(ICCID)]}
        )
        [callback] = await ts.listener.wait_for(1, requestId=answer.json()["requestId"])
        assert callback["status"] == "Success", callback
        assert f"{action}Response" in callback["deviceResponse"]
        assert (await ts.device(ICCID))["state"] == expected

    assert (await ts.device(ICCID))["mdn"] != first_mdn


async def test_activation_input_errors_answer_400(ts: TS) -> None:
    no_plan = await ts.call(
        "POST", "/devices/actions/activate", json={"mdnZipCode": "1", "devices": [dev("1")]}
    )
    bad_id = await ts.call(
        "POST",
        "/devices/actions/activate",
        json={**ACTIVATE, "devices": [{"deviceIds": [{"kind": "iccid", "id": "abc"}]}]},
    )
    other_account = await ts.call(
        "POST",
        "/devices/actions/activate",
        json={**ACTIVATE, "accountName": "nope", "devices": [dev("1")]},
    )
    too_many = await ts.call(
        "POST",
        "/devices/actions/activate",
        json={**ACTIVATE, "devices": [dev(str(n)) for n in range(1, 10_002)]},
    )

    assert no_plan.status_code == 400
    assert no_plan.json()["errorCode"].startswith("UnifiedWebService.INPUT_INVALID.")
    assert bad_id.json()["errorCode"] == "UnifiedWebService.INPUT_INVALID.Device.Identifier.Invalid"
    assert other_account.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.AccountNotFound"
    assert too_many.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.MaxRequestsExceeded"
    assert ts.listener.received == []


async def test_plan_change_refused_while_suspended(ts: TS) -> None:
    await ts.seed_devices({"iccid": ICCID, "state": "suspend", "servicePlan": "OLD"})

    answer = await ts.call(
        "PUT", "/devices/actions/plan", json={"servicePlan": "NEW", "devices": [dev(ICCID)]}
    )
    [callback] = await ts.listener.wait_for(1, requestId=answer.json()["requestId"])

    assert callback["status"] == "Failed"
    assert callback["faultResponse"]["faultcode"] == (
        "UnifiedWebService.REQUEST_FAILED.DeviceState.Invalid"
    )
    assert (await ts.device(ICCID))["servicePlan"] == "OLD"


async def test_fifth_plan_change_in_a_month_is_refused(ts: TS) -> None:
    await ts.seed_devices({"iccid": ICCID, "state": "active", "servicePlan": "P0"})
    outcomes = []
    for n in range(1, 6):
        answer = await ts.call(
            "PUT", "/devices/actions/plan", json={"servicePlan": f"P{n}", "devices": [dev(ICCID)]}
        )
        [callback] = await ts.listener.wait_for(1, requestId=answer.json()["requestId"])
        outcomes.append(callback["status"])

    assert outcomes == ["Success"] * 4 + ["Failed"]
    assert (await ts.device(ICCID))["servicePlan"] == "P4"


async def test_change_identifier_moves_the_device_to_its_new_iccid(ts: TS) -> None:
    await ts.seed_devices(
        {"iccid": ICCID, "imei": IMEI, "state": "active", "servicePlan": "P"},
        {"iccid": "777", "state": "preactive"},
    )
    body = {"deviceIds": [{"kind": "iccid", "id": ICCID}], "change4gOption": "ChangeICCID"}

    taken = await ts.call(
        "PUT",
        "/devices/4G/actions/deviceId",
        json={**body, "deviceIdsTo": [dev("777")["deviceIds"][0]]},
    )
    moved = await ts.call(
        "PUT",
        "/devices/4G/actions/deviceId",
        json={**body, "deviceIdsTo": [{"kind": "iccid", "id": "888"}]},
    )
    [refused] = await ts.listener.wait_for(1, requestId=taken.json()["requestId"])
    [done] = await ts.listener.wait_for(1, requestId=moved.json()["requestId"])

    assert refused["status"] == "Failed"
    assert done["status"] == "Success"
    new_ids = done["deviceResponse"]["changeIdentifierResponse"]["deviceIds"]
    assert {"kind": "iccid", "id": "888"} in new_ids
    assert (await ts.device("888"))["imei"] == IMEI


async def test_custom_field_and_cost_center_limits(ts: TS) -> None:
    await ts.seed_devices({"iccid": ICCID, "state": "active", "servicePlan": "P"})
    too_long = await ts.call(
        "PUT",
        "/devices/actions/customFields",
        json={
            "customFieldsToUpdate": [{"key": "CustomField1", "value": "x" * 51}],
            "devices": [dev(ICCID)],
        },
    )
    ok = await ts.call(
        "PUT",
        "/devices/actions/customFields",
        json={
            "customFieldsToUpdate": [{"key": "CustomField1", "value": "alice"}],
            "devices": [dev(ICCID)],
        },
    )
    center = await ts.call(
        "PUT", "/devices/costCenter", json={"costCenter": "CC-1", "devices": [dev(ICCID)]}
    )
    long_center = await ts.call(
        "PUT", "/devices/costCenter", json={"costCenter": "c" * 37, "devices": [dev(ICCID)]}
    )
    await ts.listener.wait_for(1, requestId=ok.json()["requestId"])
    await ts.listener.wait_for(1, requestId=center.json()["requestId"])

    assert too_long.json()["errorCode"] == "UnifiedWebService.INPUT_INVALID.CustomField.TooLong"
    assert long_center.status_code == 400
    [listed] = (await ts.listed(accountName=ACCOUNT))["devices"]
    assert listed["customFields"] == [{"key": "CustomField1", "value": "alice"}]
    assert listed["costCenterCode"] == "CC-1"


async def test_suspend_takes_with_billing_as_a_boolean_only(ts: TS) -> None:
    await ts.seed_devices({"iccid": ICCID, "state": "active", "servicePlan": "P"})

    bad = await ts.call(
        "POST", "/devices/actions/suspend", json={"devices": [dev(ICCID)], "withBilling": "yes"}
    )
    good = await ts.call(
        "POST", "/devices/actions/suspend", json={"devices": [dev(ICCID)], "withBilling": True}
    )

    assert bad.status_code == 400
    assert "withBilling" in bad.text
    assert good.status_code == 200 and good.json()["requestId"]
