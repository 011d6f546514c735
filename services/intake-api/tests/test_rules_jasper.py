"""A Cisco Control Center provider (integration ``jasper``): what intake accepts and the
``params`` it stores for the worker, through the API on the real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from intake_helpers import carrier_plan, headers, stored, submit, submit_and_read, table_counts
from sqlalchemy import update

from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.models import ServiceProvider

SUBMIT = "/api/v1/bulk-changes"
VALIDATE = "/api/v1/bulk-changes/validate"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
async def pod19(factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider(name="POD19")
    async with sessionmaker() as s, s.begin():
        await s.execute(
            update(ServiceProvider)
            .where(ServiceProvider.id == provider.id)
            .values(integration="jasper")
        )
    return tenant, provider


def status_update(devices, provider, target, **extra):
    return {
        "Devices": [d.iccid for d in devices],
        "ServiceProviderId": provider.id,
        "ChangeType": 3,
        "StatusUpdate": {"TargetStatus": target, **extra},
    }


@pytest.mark.parametrize(
    ("target", "sim_status"),
    [("Active", "ACTIVATED"), ("ACTIVATED", "ACTIVATED"), ("activated", "ACTIVATED")],
)
async def test_a_legal_transition_is_queued_with_the_sim_status_to_reach(
    api, sessionmaker, factory, pod19, target, sim_status
):
    tenant, provider = pod19
    devices = await factory.devices(tenant, provider, 2, status=DeviceStatus.PREACTIVE)
    body = status_update(
        devices, provider, target, JasperStatusUpdate={"ReasonCode": "CUSTOMER_REQUEST"}
    )
    rows = await submit_and_read(api, sessionmaker, tenant, body)
    for device in devices:
        assert rows[device.iccid].status == "Queued"
        assert rows[device.iccid].params == {"op": "set_status", "status": sim_status}


async def test_deactivating_an_active_sim_and_retiring_a_deactivated_one_are_accepted(
    api, sessionmaker, factory, pod19
):
    tenant, provider = pod19
    (active,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    (deactivated,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.DEACTIVATED)
    rows = await submit_and_read(
        api, sessionmaker, tenant, status_update([active], provider, "Deactive")
    )
    assert rows[active.iccid].params == {"op": "set_status", "status": "DEACTIVATED"}
    rows = await submit_and_read(
        api, sessionmaker, tenant, status_update([deactivated], provider, "RETIRED")
    )
    assert rows[deactivated.iccid].params == {"op": "set_status", "status": "RETIRED"}


async def test_a_refused_transition_fails_the_device_with_the_graphs_reason(
    api, sessionmaker, factory, pod19
):
    tenant, provider = pod19
    (preactive,) = await factory.devices(tenant, provider, 1)
    (active,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    (fresh,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.NOT_PROVISIONED)
    body = status_update([preactive, active, fresh], provider, "Active")
    rows = await submit_and_read(api, sessionmaker, tenant, body)
    assert rows[preactive.iccid].status == "Queued"
    assert rows[active.iccid].status == "ValidationFailed"
    assert rows[active.iccid].validation_error == "the SIM is already ACTIVATED"
    assert rows[fresh.iccid].validation_error.startswith("device is not at the carrier yet")

    back = status_update([active], provider, "TEST_READY")
    rows = await submit_and_read(api, sessionmaker, tenant, back)
    assert rows[active.iccid].validation_error == (
        "a ACTIVATED SIM may not go back to TEST_READY (pre-activation is one way)"
    )


@pytest.mark.parametrize("target", ["Suspend", "Restore", "PURGED", "REPLACED", "Frozen"])
async def test_a_target_the_integration_does_not_set_is_a_422(
    api, sessionmaker, factory, pod19, target
):
    tenant, provider = pod19
    devices = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    before = await table_counts(sessionmaker)
    answer = await api.post(
        SUBMIT, json=status_update(devices, provider, target), headers=headers(tenant)
    )
    assert answer.status_code == 422, answer.text
    assert "Cisco Control Center" in answer.json()["detail"]
    assert await table_counts(sessionmaker) == before


@pytest.mark.parametrize(
    ("change_type", "body", "why"),
    [
        (
            8,
            {
                "IdentifierChanges": [
                    {
                        "IdentifierType": "ICCID",
                        "OldICCID": "89148000008245116615",
                        "NewICCID": "89148000008245116623",
                    }
                ]
            },
            "ICCID and IMEI cannot be changed",
        ),
        (9, {"Devices": ["89148000008245116615"]}, "retired and purged through its status"),
    ],
)
async def test_change_types_8_and_9_are_a_422_naming_the_missing_call(
    api, sessionmaker, factory, pod19, change_type, body, why
):
    tenant, provider = pod19
    request = {"ServiceProviderId": provider.id, "ChangeType": change_type, **body}
    before = await table_counts(sessionmaker)
    for path in (SUBMIT, VALIDATE):
        answer = await api.post(path, json=request, headers=headers(tenant))
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert problem["type"].endswith("unsupported-change-type")
        assert "Control Center has no REST call for it" in problem["detail"]
        assert why in problem["detail"]
        assert problem["supported"] == [1, 3, 4, 5, 6, 7]
    assert await table_counts(sessionmaker) == before


async def test_an_over_long_username_is_refused_for_every_device(api, sessionmaker, factory, pod19):
    tenant, provider = pod19
    devices = await factory.devices(tenant, provider, 2, status=DeviceStatus.ACTIVE)
    body = {
        "Devices": [d.iccid for d in devices],
        "ServiceProviderId": provider.id,
        "ChangeType": 6,
        "Username": {"NewUsername": "u" * 51, "CostCenter": "CC-1"},
    }
    rows = await submit_and_read(api, sessionmaker, tenant, body)
    assert {r.status for r in rows.values()} == {"ValidationFailed"}
    assert {r.validation_error for r in rows.values()} == {
        "NewUsername is 51 characters; Control Center's custom field accountCustom1 takes at "
        "most 50"
    }
    body["Username"]["NewUsername"] = "u" * 50
    rows = await submit_and_read(api, sessionmaker, tenant, body)
    assert {r.op for r in rows.values()} == {"edit_username"}
    assert rows[devices[0].iccid].params == {
        "op": "edit_username",
        "username": "u" * 50,
        "cost_center": "CC-1",
    }


async def test_a_rate_plan_change_checks_the_catalogue_but_not_thingspaces_limits(
    api, sessionmaker, factory, pod19
):
    tenant, provider = pod19
    plan = await carrier_plan(sessionmaker, provider.id)
    # ThingSpace refuses a plan change on a suspended device; Control Center has no such rule.
    (device,) = await factory.devices(
        tenant, provider, 1, status=DeviceStatus.SUSPENDED, carrier_rate_plan="M2M 1GB"
    )
    body = {
        "Devices": [device.iccid],
        "ServiceProviderId": provider.id,
        "ChangeType": 7,
        "CarrierRatePlanUpdate": {"CarrierRatePlan": plan},
    }
    rows = await submit_and_read(api, sessionmaker, tenant, body)
    assert rows[device.iccid].params == {
        "op": "change_plan",
        "service_plan": plan,
        "current_service_plan": "M2M 1GB",
    }
    body["CarrierRatePlanUpdate"]["CarrierRatePlan"] = "NO SUCH PLAN"
    rows = await submit_and_read(api, sessionmaker, tenant, body)
    assert rows[device.iccid].validation_error == (
        f"carrier rate plan 'NO SUCH PLAN' does not exist for service provider {provider.id}"
    )


async def test_the_dry_run_gives_the_verdicts_a_submit_stores(api, sessionmaker, factory, pod19):
    tenant, provider = pod19
    (preactive,) = await factory.devices(tenant, provider, 1)
    (active,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    body = status_update([preactive, active], provider, "Active")
    before = await table_counts(sessionmaker)
    report = (await api.post(VALIDATE, json=body, headers=headers(tenant))).json()
    assert await table_counts(sessionmaker) == before
    rows = await stored(sessionmaker, (await submit(api, tenant, body))["BulkChangeId"])
    for verdict in report["Devices"]:
        row = rows[verdict["ICCID"]]
        assert verdict["Ok"] is (row.status == "Queued")
        assert verdict.get("Operation") == row.op
        assert verdict.get("Error") == row.validation_error
    assert report["Devices"][0]["Operation"] == "set_status"
    assert report["Devices"][1]["Error"] == "the SIM is already ACTIVATED"


async def test_a_thingspace_provider_still_refuses_a_sim_status_as_target(
    api, sessionmaker, factory
):
    tenant, provider = await factory.tenant(), await factory.provider()
    devices = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    answer = await api.post(
        SUBMIT, json=status_update(devices, provider, "DEACTIVATED"), headers=headers(tenant)
    )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("TargetStatus 'DEACTIVATED' is not one of Active")


async def test_the_portals_sample_status_update_runs_on_a_control_center_provider(
    api, sessionmaker, factory, pod19
):
    tenant, provider = pod19
    (device,) = await factory.devices(tenant, provider, 1)
    body = json.loads((FIXTURES / "status-update.json").read_text())
    body |= {"ServiceProviderId": provider.id, "Devices": [device.iccid]}
    rows = await submit_and_read(api, sessionmaker, tenant, body)
    assert rows[device.iccid].status == "Queued"
    assert rows[device.iccid].params == {"op": "set_status", "status": "ACTIVATED"}
