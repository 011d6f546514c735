"""ChangeType 7, CarrierRatePlanChange: the plan, suspended devices, four changes a month."""

from __future__ import annotations

from datetime import timedelta

import pytest
from intake_helpers import carrier_plan, now, past_plan_changes, submit_and_read

from devicebulk_common.contracts import DeviceStatus


def plan_change(devices, provider, plan):
    return {
        "Devices": [d.iccid for d in devices],
        "ServiceProviderId": provider.id,
        "ChangeType": 7,
        "CarrierRatePlanUpdate": {"CarrierRatePlan": plan},
    }


@pytest.fixture
async def account(factory):
    return await factory.tenant(), await factory.provider()


async def test_an_active_plan_of_the_provider_is_sent_with_the_current_one(
    api, sessionmaker, factory, account
):
    tenant, provider = account
    plan = await carrier_plan(sessionmaker, provider.id)
    (device,) = await factory.devices(
        tenant, provider, 1, status=DeviceStatus.ACTIVE, carrier_rate_plan="OLD_PLAN"
    )
    rows = await submit_and_read(api, sessionmaker, tenant, plan_change([device], provider, plan))
    assert rows[device.iccid].status == "Queued"
    assert rows[device.iccid].params == {
        "op": "change_plan",
        "service_plan": plan,
        "current_service_plan": "OLD_PLAN",
    }


@pytest.mark.parametrize("case", ["unknown", "inactive", "other provider's"])
async def test_a_plan_that_is_unknown_inactive_or_another_providers_fails_every_device(
    api, sessionmaker, factory, account, case
):
    tenant, provider = account
    devices = await factory.devices(tenant, provider, 2, status=DeviceStatus.ACTIVE)
    if case == "unknown":
        plan, reason = "NO_SUCH_PLAN", "does not exist for service provider"
    elif case == "inactive":
        plan, reason = await carrier_plan(sessionmaker, provider.id, active=False), "not active"
    else:
        other = await factory.provider()
        plan, reason = await carrier_plan(sessionmaker, other.id), "does not exist"
    rows = await submit_and_read(api, sessionmaker, tenant, plan_change(devices, provider, plan))
    assert {r.status for r in rows.values()} == {"ValidationFailed"}
    assert all(reason in r.validation_error for r in rows.values())


async def test_a_suspended_device_is_refused_before_the_carrier_is_called(
    api, sessionmaker, factory, account
):
    tenant, provider = account
    plan = await carrier_plan(sessionmaker, provider.id)
    (active,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    (suspended,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.SUSPENDED)
    rows = await submit_and_read(
        api, sessionmaker, tenant, plan_change([active, suspended], provider, plan)
    )
    assert rows[active.iccid].op == "change_plan"
    assert rows[suspended.iccid].validation_error == (
        "the carrier does not change the plan of a suspended device"
    )


async def test_a_device_whose_plan_changed_four_times_this_month_is_refused(
    api, sessionmaker, factory, account
):
    tenant, provider = account
    plan = await carrier_plan(sessionmaker, provider.id)
    busy, calm = await factory.devices(tenant, provider, 2, status=DeviceStatus.ACTIVE)
    this_month = now()
    last_month = this_month.replace(day=1, hour=0, minute=0, second=0) - timedelta(hours=1)
    await past_plan_changes(sessionmaker, busy, [("Success", this_month)] * 4)
    # Three this month count; last month's, and a failed one, do not.
    await past_plan_changes(
        sessionmaker,
        calm,
        [("Success", this_month)] * 3 + [("Success", last_month), ("Failed", this_month)],
    )
    rows = await submit_and_read(
        api, sessionmaker, tenant, plan_change([busy, calm], provider, plan)
    )
    assert rows[busy.iccid].status == "ValidationFailed"
    assert "already changed 4 times this month" in rows[busy.iccid].validation_error
    assert rows[calm.iccid].status == "Queued" and rows[calm.iccid].op == "change_plan"
