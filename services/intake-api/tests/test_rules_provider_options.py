"""A provider's stored options (``service_provider.carrier_options``) change what intake
accepts: its status graph and targets, its custom fields and their length."""

from __future__ import annotations

from intake_helpers import headers, submit_and_read, table_counts
from sqlalchemy import update

from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.models import ServiceProvider

SUBMIT = "/api/v1/bulk-changes"


async def _provider(factory, sessionmaker, integration: str, options: dict):
    tenant = await factory.tenant()
    provider = await factory.provider(name="POD19")
    async with sessionmaker() as s, s.begin():
        await s.execute(
            update(ServiceProvider)
            .where(ServiceProvider.id == provider.id)
            .values(integration=integration, carrier_options=options)
        )
    return tenant, provider


def _status(devices, provider, target):
    return {
        "Devices": [d.iccid for d in devices],
        "ServiceProviderId": provider.id,
        "ChangeType": 3,
        "StatusUpdate": {"TargetStatus": target},
    }


def _username(devices, provider, username, cost_center="CC-1"):
    return {
        "Devices": [d.iccid for d in devices],
        "ServiceProviderId": provider.id,
        "ChangeType": 6,
        "Username": {"NewUsername": username, "CostCenter": cost_center},
    }


async def test_a_providers_own_status_graph_decides_a_transition(api, sessionmaker, factory):
    # This account may only retire an active SIM (not deactivate it): the default graph says
    # the opposite.
    options = {"status_transitions": {"ACTIVATED": ["RETIRED"]}}
    tenant, provider = await _provider(factory, sessionmaker, "jasper", options)
    devices = await factory.devices(tenant, provider, 2, status=DeviceStatus.ACTIVE)

    retired = await submit_and_read(
        api, sessionmaker, tenant, _status(devices[:1], provider, "RETIRED")
    )
    deactivated = await submit_and_read(
        api, sessionmaker, tenant, _status(devices[1:], provider, "Deactive")
    )

    assert retired[devices[0].iccid].params == {"op": "set_status", "status": "RETIRED"}
    row = deactivated[devices[1].iccid]
    assert row.status == "ValidationFailed"
    assert "DEACTIVATED" in row.validation_error and "ACTIVATED" in row.validation_error


async def test_a_target_outside_the_providers_targets_is_a_422(api, sessionmaker, factory):
    tenant, provider = await _provider(
        factory, sessionmaker, "jasper", {"status_targets": ["ACTIVATED", "DEACTIVATED"]}
    )
    devices = await factory.devices(tenant, provider, 1, status=DeviceStatus.DEACTIVATED)
    before = await table_counts(sessionmaker)

    answer = await api.post(
        SUBMIT, json=_status(devices, provider, "RETIRED"), headers=headers(tenant)
    )

    assert answer.status_code == 422, answer.text
    assert "one of ACTIVATED, DEACTIVATED" in answer.json()["detail"]
    assert await table_counts(sessionmaker) == before


async def test_the_providers_custom_field_length_and_name_bound_a_username(
    api, sessionmaker, factory
):
    options = {"custom_field_max_length": 20, "username_field": "accountCustom7"}
    tenant, provider = await _provider(factory, sessionmaker, "jasper", options)
    devices = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)

    too_long = await submit_and_read(
        api, sessionmaker, tenant, _username(devices, provider, "u" * 21)
    )
    fits = await submit_and_read(api, sessionmaker, tenant, _username(devices, provider, "u" * 20))

    assert too_long[devices[0].iccid].validation_error == (
        "NewUsername is 21 characters; Control Center's custom field accountCustom7 takes at "
        "most 20"
    )
    assert fits[devices[0].iccid].params["username"] == "u" * 20


async def test_a_thingspace_username_is_bounded_by_thingspaces_custom_field(
    api, sessionmaker, factory
):
    options = {"username_field": "CustomField4"}
    tenant, provider = await _provider(factory, sessionmaker, "thingspace", options)
    devices = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)

    rows = await submit_and_read(api, sessionmaker, tenant, _username(devices, provider, "u" * 51))

    assert rows[devices[0].iccid].validation_error == (
        "NewUsername is 51 characters; ThingSpace's custom field takes at most 50"
    )


async def test_stored_options_the_integration_refuses_are_a_422_not_a_crash(
    api, sessionmaker, factory
):
    tenant, provider = await _provider(factory, sessionmaker, "jasper", {"page_size": 500})
    devices = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)

    answer = await api.post(
        SUBMIT, json=_status(devices, provider, "Deactive"), headers=headers(tenant)
    )

    assert answer.status_code == 422, answer.text
    assert "page_size must be 1..50" in answer.json()["detail"]
    assert "update-provider" in answer.json()["detail"]
