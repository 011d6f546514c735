"""ChangeType 8, ChangeICCIDorIMEI: one old → new pair per device, ``Devices`` optional."""

from __future__ import annotations

import pytest
from intake_helpers import customer_plan, fresh_iccid, fresh_imei, submit_and_read

from devicebulk_common.contracts import DeviceStatus


def identifier_changes(provider, *pairs, **extra):
    return {
        "ServiceProviderId": provider.id,
        "ChangeType": 8,
        "IdentifierChanges": list(pairs),
        **extra,
    }


def new_iccid_for(device, new=None, **extra):
    return {
        "IdentifierType": "ICCID",
        "OldICCID": device.iccid,
        "NewICCID": new or fresh_iccid(),
        **extra,
    }


@pytest.fixture
async def account(factory):
    return await factory.tenant(), await factory.provider()


@pytest.fixture
async def active(factory, account):
    """Two active devices with an MSISDN."""
    tenant, provider = account
    return await factory.devices(
        tenant, provider, 2, status=DeviceStatus.ACTIVE, msisdn="15550001111"
    )


async def test_an_iccid_change_of_an_active_device_carries_every_identifier(
    api, sessionmaker, account, active
):
    tenant, provider = account
    device = active[0]
    new = fresh_iccid()
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        identifier_changes(provider, new_iccid_for(device, new, OldIMEI=device.imei)),
    )
    assert rows[device.iccid].status == "Queued"
    assert rows[device.iccid].params == {
        "op": "change_identifier",
        "identifier_type": "ICCID",
        "old_iccid": device.iccid,
        "new_iccid": new,
        "old_imei": device.imei,
        "new_imei": None,
        "customer_rate_plan_id": None,
    }


async def test_an_imei_change_finds_the_device_by_its_old_imei(api, sessionmaker, account, active):
    tenant, provider = account
    device = active[0]
    new = fresh_imei()
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        identifier_changes(
            provider, {"IdentifierType": "IMEI", "OldIMEI": device.imei, "NewIMEI": new}
        ),
    )
    assert rows[device.iccid].params["new_imei"] == new
    assert rows[device.iccid].params["old_iccid"] == device.iccid


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": DeviceStatus.SUSPENDED}, "device that is suspended (it must be active)"),
        ({"msisdn": None}, "without an MSISDN"),
    ],
)
async def test_the_device_must_be_active_with_an_msisdn(
    api, sessionmaker, factory, account, active, change, reason
):
    tenant, provider = account
    (other,) = await factory.devices(
        tenant,
        provider,
        1,
        **{"status": DeviceStatus.ACTIVE, "msisdn": "15550002222", **change},
    )
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        identifier_changes(provider, new_iccid_for(active[0]), new_iccid_for(other)),
    )
    assert rows[active[0].iccid].status == "Queued"
    assert reason in rows[other.iccid].validation_error


async def test_the_new_iccid_must_pass_luhn_and_be_unknown_to_the_inventory(
    api, sessionmaker, factory, account, active
):
    tenant, provider = account
    good, taken = active
    (someone_elses,) = await factory.devices(await factory.tenant(), await factory.provider(), 1)
    (third,) = await factory.devices(
        tenant, provider, 1, status=DeviceStatus.ACTIVE, msisdn="15550003333"
    )
    bad = fresh_iccid()
    bad = bad[:-1] + str((int(bad[-1]) + 1) % 10)
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        identifier_changes(
            provider,
            new_iccid_for(good),
            new_iccid_for(taken, someone_elses.iccid),
            new_iccid_for(third, bad),
        ),
    )
    assert rows[good.iccid].status == "Queued"
    assert rows[taken.iccid].validation_error == (
        f"NewICCID {someone_elses.iccid} already belongs to a device of the inventory"
    )
    assert rows[third.iccid].validation_error == "NewICCID: ICCID fails its Luhn check"


async def test_the_new_imei_must_pass_luhn_and_be_unknown_to_the_inventory(
    api, sessionmaker, account, active
):
    tenant, provider = account
    good, taken = active
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        identifier_changes(
            provider,
            {
                "IdentifierType": "IMEI",
                "OldICCID": good.iccid,
                "OldIMEI": good.imei,
                "NewIMEI": "356938035643800",
            },
            {
                "IdentifierType": "IMEI",
                "OldICCID": taken.iccid,
                "OldIMEI": taken.imei,
                "NewIMEI": good.imei,
            },
        ),
    )
    assert rows[good.iccid].validation_error == "NewIMEI: IMEI fails its Luhn check"
    assert rows[taken.iccid].validation_error == (
        f"NewIMEI {good.imei} already belongs to a device of the inventory"
    )


async def test_the_old_identifier_must_match_the_device(api, sessionmaker, account, active):
    tenant, provider = account
    matching, mismatched = active
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        identifier_changes(
            provider,
            new_iccid_for(matching, OldIMEI=matching.imei),
            new_iccid_for(mismatched, OldIMEI=matching.imei),
            new_iccid_for(type(matching)(iccid=fresh_iccid())),
        ),
    )
    assert rows[matching.iccid].status == "Queued"
    assert rows[mismatched.iccid].validation_error == (
        f"OldIMEI {matching.imei} is not this device's IMEI"
    )
    unknown = [r for iccid, r in rows.items() if iccid not in (matching.iccid, mismatched.iccid)]
    assert unknown[0].validation_error == "device not found for this tenant and service provider"


async def test_a_new_identifier_goes_to_one_device_only(api, sessionmaker, account, active):
    tenant, provider = account
    first, second = active
    new = fresh_iccid()
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        identifier_changes(provider, new_iccid_for(first, new), new_iccid_for(second, new)),
    )
    assert rows[first.iccid].status == "Queued"
    assert "more than one device" in rows[second.iccid].validation_error


async def test_add_customer_rate_plan_needs_an_active_plan_of_the_tenant(
    api, sessionmaker, factory, account, active
):
    tenant, provider = account
    (third,) = await factory.devices(
        tenant, provider, 1, status=DeviceStatus.ACTIVE, msisdn="15550004444"
    )
    plan = await customer_plan(sessionmaker, tenant.id)
    inactive = await customer_plan(sessionmaker, tenant.id, active=False)
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        identifier_changes(
            provider,
            new_iccid_for(active[0], AddCustomerRatePlan=True, CustomerRatePlanId=plan),
            new_iccid_for(active[1], AddCustomerRatePlan=True, CustomerRatePlanId=inactive),
            new_iccid_for(third, AddCustomerRatePlan=True),
        ),
    )
    assert rows[active[0].iccid].params["customer_rate_plan_id"] == plan
    assert rows[active[1].iccid].validation_error == f"customer rate plan {inactive} is not active"
    assert rows[third.iccid].validation_error == "AddCustomerRatePlan needs a CustomerRatePlanId"


async def test_a_pair_without_its_identifiers_fails(api, sessionmaker, account, active):
    tenant, provider = account
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        identifier_changes(
            provider,
            {"IdentifierType": "ICCID", "OldICCID": active[0].iccid},
            {"IdentifierType": "IMEI", "OldICCID": active[1].iccid, "NewIMEI": fresh_imei()},
        ),
    )
    assert rows[active[0].iccid].validation_error == "an ICCID change needs OldICCID and NewICCID"
    assert rows[active[1].iccid].validation_error == "an IMEI change needs OldIMEI and NewIMEI"


async def test_devices_when_given_must_name_the_pairs_devices(api, account, active):
    tenant, provider = account
    headers = {"X-Tenant-Id": str(tenant.id)}
    pair = new_iccid_for(active[0])
    same = identifier_changes(provider, pair, Devices=[active[0].iccid])
    other = identifier_changes(provider, pair, Devices=[active[1].iccid])
    assert (await api.post("/api/v1/bulk-changes", json=same, headers=headers)).status_code == 202
    refused = await api.post("/api/v1/bulk-changes", json=other, headers=headers)
    assert refused.status_code == 422 and "IdentifierChanges" in refused.json()["detail"]


async def test_an_unknown_identifier_type_is_a_422_problem(api, account, active):
    tenant, provider = account
    answer = await api.post(
        "/api/v1/bulk-changes",
        json=identifier_changes(provider, {**new_iccid_for(active[0]), "IdentifierType": "EID"}),
        headers={"X-Tenant-Id": str(tenant.id)},
    )
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/invalid-request")
