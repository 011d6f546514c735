import json

import httpx
import pytest

from devicebulk_common.carriers import (
    CarrierAdapter,
    CredentialsRefusedError,
    DeviceRef,
    PlaceOfUse,
    redact_body,
)

from .helpers import ACCOUNT, DEVICE, PASSWORD, USERNAME, accepted, body_of, thingspace

M2M = "/m2m/v1"
PLAIN = DeviceRef(iccid="89148000000000000002")


async def test_adapter_satisfies_the_carrier_protocol():
    async with thingspace() as ts:
        adapter: CarrierAdapter = ts.adapter
        assert isinstance(adapter, CarrierAdapter)


@pytest.mark.parametrize(("with_billing", "sent"), [(True, True), (False, False), (None, "absent")])
async def test_suspend_sends_with_billing_only_when_asked(with_billing, sent):
    async with thingspace() as ts:
        route = ts.router.post(f"{M2M}/devices/actions/suspend").mock(return_value=accepted())
        await ts.adapter.suspend([DEVICE], with_billing=with_billing)

    assert body_of(route).get("withBilling", "absent") == sent


async def test_activate_sends_devices_plan_zip_and_place_of_use():
    place = PlaceOfUse(
        address_line1="1 Main St",
        city="Springfield",
        state="IL",
        zip="62701",
        country="USA",
        first_name="Ada",
        last_name="Lovelace",
        zip4="1234",
    )
    async with thingspace() as ts:
        route = ts.router.post(f"{M2M}/devices/actions/activate").mock(
            return_value=accepted("act-1")
        )
        result = await ts.adapter.activate(
            [DEVICE, PLAIN],
            service_plan="M2M5GB",
            zip_code="62701",
            place_of_use=place,
            custom_fields={"CustomField1": "alice"},
            cost_center="CC-7",
            sku_number="SKU1",
            group_name="fleet",
        )

    assert result.request_id == "act-1"
    assert result.exchange.operation == "activate"
    assert result.exchange.status_code == 200
    assert body_of(route) == {
        "accountName": ACCOUNT,
        "devices": [
            {
                "deviceIds": [
                    {"kind": "iccid", "id": DEVICE.iccid},
                    {"kind": "imei", "id": DEVICE.imei},
                ]
            },
            {"deviceIds": [{"kind": "iccid", "id": PLAIN.iccid}]},
        ],
        "servicePlan": "M2M5GB",
        "mdnZipCode": "62701",
        "primaryPlaceOfUse": {
            "address": {
                "addressLine1": "1 Main St",
                "city": "Springfield",
                "state": "IL",
                "zip": "62701",
                "zip4": "1234",
                "country": "USA",
            },
            "customerName": {"firstName": "Ada", "lastName": "Lovelace"},
        },
        "customFields": [{"key": "CustomField1", "value": "alice"}],
        "groupName": "fleet",
        "skuNumber": "SKU1",
        "costCenterCode": "CC-7",
    }


async def test_deactivate_and_plan_change_bodies():
    async with thingspace() as ts:
        deactivate = ts.router.post(f"{M2M}/devices/actions/deactivate").mock(
            return_value=accepted()
        )
        plan = ts.router.put(f"{M2M}/devices/actions/plan").mock(return_value=accepted())
        await ts.adapter.deactivate([PLAIN], etf_waiver=True)
        await ts.adapter.change_service_plan([PLAIN], service_plan="B", current_service_plan="A")

    assert body_of(deactivate)["reasonCode"] == "FF"
    assert body_of(deactivate)["etfWaiver"] is True
    assert body_of(deactivate)["deleteAfterDeactivation"] is False
    assert body_of(plan) == {
        "accountName": ACCOUNT,
        "devices": [{"deviceIds": [{"kind": "iccid", "id": PLAIN.iccid}]}],
        "servicePlan": "B",
        "currentServicePlan": "A",
    }


async def test_change_identifier_uses_the_configured_service_type():
    new = DeviceRef(iccid="89148000000000000099")
    async with thingspace(change_identifier_service_type="5G") as ts:
        route = ts.router.put(f"{M2M}/devices/5G/actions/deviceId").mock(return_value=accepted())
        await ts.adapter.change_identifier(DEVICE, new, identifier="ICCID", zip_code="10001")

    assert body_of(route) == {
        "deviceIds": [
            {"kind": "iccid", "id": DEVICE.iccid},
            {"kind": "imei", "id": DEVICE.imei},
        ],
        "deviceIdsTo": [{"kind": "iccid", "id": new.iccid}],
        "change4gOption": "ChangeICCID",
        "zipCode": "10001",
    }


async def test_custom_fields_and_cost_center_removal():
    async with thingspace() as ts:
        fields = ts.router.put(f"{M2M}/devices/actions/customFields").mock(return_value=accepted())
        cost = ts.router.put(f"{M2M}/devices/costCenter").mock(return_value=accepted())
        await ts.adapter.update_custom_fields([PLAIN], {"CustomField1": "bob"})
        await ts.adapter.set_cost_center([PLAIN], None)
        await ts.adapter.set_cost_center([PLAIN], "CC-1")

    assert body_of(fields)["customFieldsToUpdate"] == [{"key": "CustomField1", "value": "bob"}]
    assert body_of(cost, 0)["removeCostCenter"] is True
    assert "costCenter" not in body_of(cost, 0)
    assert body_of(cost, 1)["costCenter"] == "CC-1"


async def test_invalid_arguments_are_refused_before_any_call():
    async with thingspace() as ts:
        with pytest.raises(ValueError):
            await ts.adapter.update_custom_fields([PLAIN], {"CustomField9": "x"})
        with pytest.raises(ValueError):
            await ts.adapter.update_custom_fields([PLAIN], {"CustomField1": "x" * 51})
        with pytest.raises(ValueError):
            await ts.adapter.set_cost_center([PLAIN], "c" * 37)
        with pytest.raises(ValueError):
            await ts.adapter.suspend([])

    assert ts.token_route.call_count == 0


async def test_delete_over_100_devices_raises_without_calling():
    devices = [DeviceRef(iccid=f"8914800000000000{i:04d}") for i in range(101)]
    async with thingspace() as ts:
        route = ts.router.post(f"{M2M}/devices/actions/delete")
        with pytest.raises(ValueError):
            await ts.adapter.delete(devices)

    assert route.call_count == 0
    assert ts.token_route.call_count == 0


async def test_add_reports_each_device_accepting_response_or_status_keys():
    missing = DeviceRef(iccid="89148000000000000003")
    answer = [
        {"deviceIds": [{"kind": "ICCID", "id": DEVICE.iccid}], "response": "Success"},
        {
            "deviceIds": [{"kind": "Iccid", "id": PLAIN.iccid}],
            "status": "Failed",
            "message": "Device already exists",
        },
    ]
    async with thingspace() as ts:
        route = ts.router.post(f"{M2M}/devices/actions/add").mock(
            return_value=httpx.Response(200, json=answer)
        )
        result = await ts.adapter.add([DEVICE, PLAIN, missing], sku_number="SKU")

    assert body_of(route)["state"] == "preactive"
    assert body_of(route)["skuNumber"] == "SKU"
    assert len(body_of(route)["devicesToAdd"]) == 3
    assert [(r.device, r.ok) for r in result.results] == [
        (DEVICE, True),
        (PLAIN, False),
        (missing, False),
    ]
    assert result.results[1].message == "Device already exists"
    assert not result.all_ok


async def test_delete_reports_each_device():
    answer = [{"deviceIds": [{"kind": "iccid", "id": PLAIN.iccid}], "status": "Success"}]
    async with thingspace() as ts:
        route = ts.router.post(f"{M2M}/devices/actions/delete").mock(
            return_value=httpx.Response(200, json=answer)
        )
        result = await ts.adapter.delete([PLAIN])

    assert body_of(route)["devicesToDelete"] == [
        {"deviceIds": [{"kind": "iccid", "id": PLAIN.iccid}]}
    ]
    assert result.all_ok


def _listed(iccid: str, mdn: str | None, state: str) -> dict:
    ids = [{"kind": "Iccid", "id": iccid}, {"kind": "IMEI", "id": "99" + iccid[-13:]}]
    if mdn:
        ids.append({"kind": "MDN", "id": mdn})
    return {
        "deviceIds": ids,
        "carrierInformations": [{"carrierName": "Verizon", "servicePlan": "P1", "state": state}],
        "customFields": [{"key": "CustomField1", "value": "alice"}],
        "lastActivationDate": "2024-03-01T10:00:00-05:00",
        "lastConnectionDate": "",
        "connected": True,
    }


async def test_list_devices_follows_pages():
    pages = [
        httpx.Response(
            200,
            json={
                "hasMoreData": True,
                "largestDeviceIdSeen": 4242,
                "devices": [_listed("8914800000000000001", "5551234567", "active")],
            },
        ),
        httpx.Response(
            200,
            json={
                "hasMoreData": False,
                "devices": [_listed("8914800000000000002", None, "suspend")],
            },
        ),
    ]
    async with thingspace() as ts:
        route = ts.router.post(f"{M2M}/devices/actions/list").mock(side_effect=pages)
        devices = [d async for d in ts.adapter.list_devices(state="active")]

    assert [d.iccid for d in devices] == ["8914800000000000001", "8914800000000000002"]
    first = devices[0]
    assert first.mdn == "5551234567"
    assert first.state == "active"
    assert first.service_plan == "P1"
    assert first.custom_fields == {"CustomField1": "alice"}
    assert first.last_activation is not None and first.last_activation.year == 2024
    assert first.last_connection is None
    assert set(first.ids) == {"iccid", "imei", "mdn"}
    assert devices[1].state == "suspend"
    assert body_of(route, 0) == {"accountName": ACCOUNT, "currentState": "active"}
    assert body_of(route, 1)["largestDeviceIdSeen"] == 4242


async def test_list_devices_takes_the_cursor_from_extended_attributes():
    device = _listed("8914800000000000001", None, "active")
    device["extendedAttributes"] = [{"key": "DeviceId", "value": "777"}]
    pages = [
        httpx.Response(200, json={"hasMoreData": True, "devices": [device]}),
        httpx.Response(200, json={"hasMoreData": False, "devices": []}),
    ]
    async with thingspace() as ts:
        route = ts.router.post(f"{M2M}/devices/actions/list").mock(side_effect=pages)
        devices = [d async for d in ts.adapter.list_devices(device=PLAIN)]

    assert len(devices) == 1
    assert body_of(route, 0)["deviceId"] == {"kind": "iccid", "id": PLAIN.iccid}
    assert body_of(route, 1)["largestDeviceIdSeen"] == 777


async def test_request_status_and_callbacks():
    async with thingspace() as ts:
        ts.router.get(f"{M2M}/accounts/{ACCOUNT}/requests/req-1/status").mock(
            return_value=httpx.Response(200, json={"requestId": "req-1", "status": "Pending"})
        )
        register = ts.router.post(f"{M2M}/callbacks/{ACCOUNT}").mock(
            return_value=httpx.Response(
                200, json={"accountName": ACCOUNT, "name": "CarrierService"}
            )
        )
        ts.router.get(f"{M2M}/callbacks/{ACCOUNT}").mock(
            return_value=httpx.Response(
                200, json=[{"accountName": ACCOUNT, "name": "CarrierService", "url": "https://cb"}]
            )
        )
        assert await ts.adapter.request_status("req-1") == "Pending"
        exchange = await ts.adapter.register_callback("https://cb", "cb-user", "cb-secret")
        callbacks = await ts.adapter.list_callbacks()

    assert body_of(register) == {
        "name": "CarrierService",
        "url": "https://cb",
        "username": "cb-user",
        "password": "cb-secret",
    }
    assert "cb-secret" not in exchange.request_body
    assert "cb-user" not in exchange.request_body
    assert json.loads(exchange.request_body)["password"] == "***"
    assert callbacks[0].url == "https://cb"


async def test_exchanges_never_hold_secrets():
    async with thingspace() as ts:
        ts.login_route.side_effect = None
        ts.login_route.mock(
            return_value=httpx.Response(
                400, json={"errorCode": "Login.Failed", "errorMessage": "x"}
            )
        )
        with pytest.raises(CredentialsRefusedError) as caught:
            await ts.adapter.suspend([DEVICE])

    exchange = caught.value.exchange
    assert exchange is not None
    assert exchange.operation == "session_login"
    assert exchange.url.endswith("/m2m/v1/session/login")
    text = repr(exchange)
    for secret in (PASSWORD, USERNAME, "access-1", "Bearer"):
        assert secret not in text
    assert json.loads(exchange.request_body) == {"username": "***", "password": "***"}


def test_redact_body_covers_tokens_forms_and_broken_json():
    assert json.loads(redact_body('{"access_token":"abc","expires_in":3600}')) == {
        "access_token": "***",
        "expires_in": 3600,
    }
    assert json.loads(redact_body('{"sessionToken":"uuid"}')) == {"sessionToken": "***"}
    assert redact_body("grant_type=client_credentials&client_secret=s3") == (
        "grant_type=client_credentials&client_secret=***"
    )
    assert "pw" not in redact_body('{"password": "pw", "a": [1')
    assert redact_body('{"requestId": "r"}') == '{"requestId": "r"}'
