"""ChangeType 3 and the checks every change type makes, through the API on the real database:
for each rule, a device that passes and one that fails."""

from __future__ import annotations

import pytest
from intake_helpers import carrier_plan, ensure_carrier_plan, set_device, submit_and_read

from devicebulk_common.contracts import DeviceStatus

STORED_PLACE = {
    "address_line1": "9868 Scranton Rd",
    "address_line2": None,
    "city": "San Diego",
    "state": "CA",
    "zip": "92121",
    "zip4": None,
    "country": "USA",
    "first_name": "Ada",
    "last_name": "Field",
}


def activation(plan: str, zip_code: str, place: dict | None = None) -> dict:
    """What intake stores for an activation: the plan and every carrier parameter."""
    return {
        "op": "activate",
        "service_plan": plan,
        "zip_code": zip_code,
        "place_of_use": place,
        "sku_number": None,
    }


PLACE_OF_USE = {
    "Address": {
        "AddressLine1": "9868 Scranton Rd",
        "City": "San Diego",
        "State": "CA",
        "Zip": "92121",
        "Country": "USA",
    },
    "CustomerName": {"FirstName": "Ada", "LastName": "Field"},
}


def status_update(devices, provider, target, **thingspace):
    body = {
        "Devices": [d if isinstance(d, str) else d.iccid for d in devices],
        "ServiceProviderId": provider.id,
        "ChangeType": 3,
        "StatusUpdate": {"TargetStatus": target},
    }
    if thingspace:
        body["StatusUpdate"]["ThingSpaceStatusUpdate"] = thingspace
    return body


# The plans these tests activate with, in each provider's catalogue.
PLANS = ("M2M_4G", "M2M_LTE", "P")


@pytest.fixture
async def account(factory):
    tenant, provider = await factory.tenant(), await factory.provider()
    for plan in PLANS:
        await ensure_carrier_plan(factory.sessionmaker, provider.id, plan)
    return tenant, provider


@pytest.mark.parametrize(
    ("target", "allowed", "refused", "op"),
    [
        ("Suspend", DeviceStatus.ACTIVE, DeviceStatus.SUSPENDED, "suspend"),
        ("Restore", DeviceStatus.SUSPENDED, DeviceStatus.ACTIVE, "restore"),
        ("Deactive", DeviceStatus.SUSPENDED, DeviceStatus.PREACTIVE, "deactivate"),
        ("Deactive", DeviceStatus.ACTIVE, DeviceStatus.DEACTIVATED, "deactivate"),
        ("Inventory", DeviceStatus.NOT_PROVISIONED, DeviceStatus.PREACTIVE, "add"),
        ("Active", DeviceStatus.DEACTIVATED, DeviceStatus.SUSPENDED, "activate"),
        ("Active", DeviceStatus.PREACTIVE, DeviceStatus.PENDING_ACTIVATION, "activate"),
    ],
)
async def test_a_target_status_needs_a_legal_transition(
    api, sessionmaker, factory, account, target, allowed, refused, op
):
    tenant, provider = account
    (ok,) = await factory.devices(tenant, provider, 1, status=allowed)
    (bad,) = await factory.devices(tenant, provider, 1, status=refused)
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        status_update([ok, bad], provider, target, ServicePlan="M2M_4G", ZipCode="92127"),
    )
    assert rows[ok.iccid].status == "Queued" and rows[ok.iccid].op == op
    assert rows[bad.iccid].status == "ValidationFailed"
    assert rows[bad.iccid].validation_error.startswith(f"cannot {op} a device that is")


async def test_activation_needs_a_zip_code_from_the_request_or_the_place_of_use(
    api, sessionmaker, factory, account
):
    tenant, provider = account
    devices = await factory.devices(tenant, provider, 2)
    without_zip = await submit_and_read(
        api, sessionmaker, tenant, status_update(devices[:1], provider, "Active", ServicePlan="P")
    )
    from_place = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        status_update(
            devices[1:], provider, "Active", ServicePlan="P", PrimaryPlaceOfUse=PLACE_OF_USE
        ),
    )
    assert without_zip[devices[0].iccid].validation_error == (
        "activation needs a ZIP code (ThingSpaceStatusUpdate.ZipCode)"
    )
    assert from_place[devices[1].iccid].params == activation("P", "92121", STORED_PLACE)


async def test_activation_takes_the_devices_own_plan_and_fails_without_one(
    api, sessionmaker, factory, account
):
    tenant, provider = account
    (planned,) = await factory.devices(tenant, provider, 1, carrier_rate_plan="M2M_LTE")
    (unplanned,) = await factory.devices(tenant, provider, 1)
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        status_update([planned, unplanned], provider, "Active", ZipCode="92127"),
    )
    assert rows[planned.iccid].params == activation("M2M_LTE", "92127")
    assert "needs a service plan" in rows[unplanned.iccid].validation_error


async def test_an_active_device_in_an_activation_with_a_place_of_use_only_updates_it(
    api, sessionmaker, factory, account
):
    tenant, provider = account
    (active,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    (preactive,) = await factory.devices(tenant, provider, 1)
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        status_update(
            [active, preactive],
            provider,
            "Active",
            ServicePlan="M2M_4G",
            ZipCode="92127",
            PrimaryPlaceOfUse=PLACE_OF_USE,
        ),
    )
    assert rows[active.iccid].status == "Queued"
    assert rows[active.iccid].params == {"op": "update_place_of_use", "place_of_use": STORED_PLACE}
    assert rows[preactive.iccid].params == activation("M2M_4G", "92127", STORED_PLACE)


async def test_an_active_device_in_an_activation_without_a_place_of_use_is_already_active(
    api, sessionmaker, factory, account
):
    tenant, provider = account
    (active,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        status_update([active], provider, "Active", ServicePlan="M2M_4G", ZipCode="92127"),
    )
    assert rows[active.iccid].status == "ValidationFailed"
    assert rows[active.iccid].validation_error.startswith("device is already active")


async def test_a_deleted_device_is_not_found(api, sessionmaker, factory, account):
    tenant, provider = account
    kept, deleted = await factory.devices(tenant, provider, 2, status=DeviceStatus.ACTIVE)
    await set_device(sessionmaker, deleted, is_deleted=True, is_active=False)
    rows = await submit_and_read(
        api, sessionmaker, tenant, status_update([kept, deleted], provider, "Suspend")
    )
    assert rows[kept.iccid].op == "suspend"
    assert rows[deleted.iccid].validation_error == (
        "device not found for this tenant and service provider"
    )


async def test_a_device_of_another_provider_is_not_found(api, sessionmaker, factory, account):
    tenant, provider = account
    other_provider = await factory.provider()
    (mine,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    (elsewhere,) = await factory.devices(tenant, other_provider, 1, status=DeviceStatus.ACTIVE)
    rows = await submit_and_read(
        api, sessionmaker, tenant, status_update([mine, elsewhere], provider, "Suspend")
    )
    assert rows[mine.iccid].status == "Queued"
    assert rows[elsewhere.iccid].validation_error == (
        "device not found for this tenant and service provider"
    )


async def test_identifiers_must_pass_their_luhn_check_and_be_listed_once(
    api, sessionmaker, factory, account
):
    tenant, provider = account
    (ok,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    (bad_imei,) = await factory.devices(
        tenant, provider, 1, status=DeviceStatus.ACTIVE, imei="356938035643800"
    )
    bad_luhn = ok.iccid[:-1] + str((int(ok.iccid[-1]) + 1) % 10)
    body = status_update([ok, bad_imei, bad_luhn, "8914800000", ok.iccid], provider, "Suspend")
    answer = await api.post(
        "/api/v1/bulk-changes", json=body, headers={"X-Tenant-Id": str(tenant.id)}
    )
    assert answer.status_code == 202
    page = (
        await api.get(
            f"/api/v1/bulk-changes/{answer.json()['BulkChangeId']}/devices",
            headers={"X-Tenant-Id": str(tenant.id)},
        )
    ).json()
    assert [(i["Status"], i["ValidationError"]) for i in page["Items"]] == [
        ("Queued", None),
        ("ValidationFailed", "IMEI fails its Luhn check"),
        ("ValidationFailed", "ICCID fails its Luhn check"),
        ("ValidationFailed", "ICCID must be 19 or 20 digits"),
        ("ValidationFailed", "device listed more than once in this request"),
    ]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"ChangeType": 3}, "needs StatusUpdate"),
        ({"ChangeType": 1}, "needs RevService"),
        ({"ChangeType": 4}, "needs CustomerRatePlanUpdate"),
        ({"ChangeType": 6}, "needs Username"),
        ({"ChangeType": 7}, "needs CarrierRatePlanUpdate"),
        ({"ChangeType": 8}, "needs IdentifierChanges"),
        ({"ChangeType": 9, "Devices": []}, "Devices must list at least one ICCID"),
    ],
)
async def test_a_request_without_its_payload_is_a_422_problem(api, factory, account, body, detail):
    tenant, provider = account
    (device,) = await factory.devices(tenant, provider, 1)
    answer = await api.post(
        "/api/v1/bulk-changes",
        json={"Devices": [device.iccid], "ServiceProviderId": provider.id, **body},
        headers={"X-Tenant-Id": str(tenant.id)},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]


@pytest.mark.parametrize("case", ["unknown", "inactive", "other provider's"])
async def test_an_activation_with_a_plan_not_active_in_the_providers_catalogue_is_refused(
    api, sessionmaker, factory, account, case
):
    tenant, provider = account
    devices = await factory.devices(tenant, provider, 2)
    if case == "unknown":
        plan, reason = "NO_SUCH_PLAN", "does not exist for service provider"
    elif case == "inactive":
        plan, reason = await carrier_plan(sessionmaker, provider.id, active=False), "not active"
    else:
        other = await factory.provider()
        plan, reason = await carrier_plan(sessionmaker, other.id), "does not exist"
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        status_update(devices, provider, "Active", ServicePlan=plan, ZipCode="92127"),
    )
    assert {r.status for r in rows.values()} == {"ValidationFailed"}
    assert all(
        r.validation_error.startswith(f"carrier rate plan {plan!r}")
        and reason in r.validation_error
        for r in rows.values()
    )


async def test_an_activation_with_a_known_active_plan_goes_ahead(
    api, sessionmaker, factory, account
):
    tenant, provider = account
    plan = await carrier_plan(sessionmaker, provider.id)
    devices = await factory.devices(tenant, provider, 2)
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        status_update(devices, provider, "Active", ServicePlan=plan, ZipCode="92127"),
    )
    assert {r.status for r in rows.values()} == {"Queued"}
    assert {r.params["service_plan"] for r in rows.values()} == {plan}


async def test_an_activation_on_the_devices_own_plan_checks_that_plan_too(
    api, sessionmaker, factory, account
):
    tenant, provider = account
    retired = await carrier_plan(sessionmaker, provider.id, active=False)
    (current,) = await factory.devices(tenant, provider, 1, carrier_rate_plan="M2M_4G")
    (stale,) = await factory.devices(tenant, provider, 1, carrier_rate_plan=retired)
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        status_update([current, stale], provider, "Active", ZipCode="92127"),
    )
    assert rows[current.iccid].params == activation("M2M_4G", "92127")
    assert rows[stale.iccid].validation_error == (
        f"carrier rate plan {retired!r} is not active (the device's own plan)"
    )


async def test_deactivation_stores_its_carrier_parameters_with_the_device(
    api, sessionmaker, factory, account
):
    """The worker reads a device change's carrier parameters from its params, never from the
    portal's request."""
    tenant, provider = account
    (device,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        status_update([device], provider, "Deactive", ReasonCode="XY", EtfWaiver=True),
    )
    assert rows[device.iccid].params == {
        "op": "deactivate",
        "reason_code": "XY",
        "etf_waiver": True,
        "delete_after": False,
    }
