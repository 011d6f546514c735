"""ChangeType 1, CustomerAssignment, and 4, CustomerRatePlanChange: the tenant's catalogue."""

from __future__ import annotations

import pytest
from intake_helpers import add, customer_plan, customer_pool, rev_customer, submit_and_read

from devicebulk_common.models import RevCustomer
from devicebulk_devstack.testdata import unique_id


@pytest.fixture
async def account(factory):
    tenant, provider = await factory.tenant(), await factory.provider()
    return tenant, provider, await factory.devices(tenant, provider, 2)


def assignment(devices, provider, customer_id, create=True):
    return {
        "Devices": [d.iccid for d in devices],
        "ServiceProviderId": provider.id,
        "ChangeType": 1,
        "RevService": {"RevCustomerId": customer_id, "CreateRevService": create},
    }


def customer_rate_plan(devices, provider, **payload):
    return {
        "Devices": [d.iccid for d in devices],
        "ServiceProviderId": provider.id,
        "ChangeType": 4,
        "CustomerRatePlanUpdate": payload,
    }


async def test_assigning_an_active_rev_customer_of_the_tenant(api, sessionmaker, account):
    tenant, provider, devices = account
    customer = await rev_customer(sessionmaker, tenant.id)
    rows = await submit_and_read(api, sessionmaker, tenant, assignment(devices, provider, customer))
    assert {r.status for r in rows.values()} == {"Queued"}
    assert rows[devices[0].iccid].params == {
        "op": "assign_customer",
        "rev_customer_id": customer,
        "create_rev_service": True,
    }


@pytest.mark.parametrize("case", ["unknown", "inactive", "another tenant's"])
async def test_a_rev_customer_that_is_unknown_inactive_or_another_tenants_fails(
    api, sessionmaker, factory, account, case
):
    tenant, provider, devices = account
    if case == "unknown":
        customer, reason = "NO-SUCH-CUSTOMER", "does not exist for this tenant"
    elif case == "inactive":
        customer, reason = await rev_customer(sessionmaker, tenant.id, active=False), "not active"
    else:
        other = await factory.tenant()
        customer, reason = await rev_customer(sessionmaker, other.id), "does not exist"
    rows = await submit_and_read(api, sessionmaker, tenant, assignment(devices, provider, customer))
    assert {r.status for r in rows.values()} == {"ValidationFailed"}
    assert all(reason in r.validation_error for r in rows.values())


async def test_a_numeric_rev_customer_id_is_taken_as_text(api, sessionmaker, account):
    tenant, provider, devices = account
    customer = str(unique_id())
    await add(sessionmaker, RevCustomer(id=customer, tenant_id=tenant.id, name="Numeric"))
    rows = await submit_and_read(
        api, sessionmaker, tenant, assignment(devices, provider, int(customer))
    )
    assert rows[devices[0].iccid].params["rev_customer_id"] == customer


async def test_an_active_plan_and_pool_of_the_tenant_with_an_allocation(api, sessionmaker, account):
    tenant, provider, devices = account
    plan = await customer_plan(sessionmaker, tenant.id)
    pool = await customer_pool(sessionmaker, tenant.id)
    rows = await submit_and_read(
        api,
        sessionmaker,
        tenant,
        customer_rate_plan(
            devices,
            provider,
            CustomerRatePlanId=plan,
            CustomerRatePoolId=pool,
            DataAllocationMB=512,
        ),
    )
    assert {r.status for r in rows.values()} == {"Queued"}
    assert rows[devices[1].iccid].params == {
        "op": "change_customer_plan",
        "customer_rate_plan_id": plan,
        "customer_rate_pool_id": pool,
        "data_allocation_mb": 512,
    }


@pytest.mark.parametrize(
    "case", ["inactive plan", "unknown plan", "inactive pool", "another tenant's pool", "empty"]
)
async def test_a_plan_or_pool_that_is_not_the_tenants_or_not_active_fails(
    api, sessionmaker, factory, account, case
):
    tenant, provider, devices = account
    plan = await customer_plan(sessionmaker, tenant.id)
    payload: dict = {"CustomerRatePlanId": plan}
    if case == "inactive plan":
        payload["CustomerRatePlanId"] = await customer_plan(sessionmaker, tenant.id, active=False)
        reason = "is not active"
    elif case == "unknown plan":
        payload["CustomerRatePlanId"] = -1
        reason = "customer rate plan -1 does not exist for this tenant"
    elif case == "inactive pool":
        payload["CustomerRatePoolId"] = await customer_pool(sessionmaker, tenant.id, active=False)
        reason = "is not active"
    elif case == "another tenant's pool":
        other = await factory.tenant()
        payload["CustomerRatePoolId"] = await customer_pool(sessionmaker, other.id)
        reason = "does not exist for this tenant"
    else:
        payload, reason = {}, "nothing to change"
    rows = await submit_and_read(
        api, sessionmaker, tenant, customer_rate_plan(devices, provider, **payload)
    )
    assert {r.status for r in rows.values()} == {"ValidationFailed"}
    assert all(reason in r.validation_error for r in rows.values())


async def test_an_allocation_alone_is_a_change(api, sessionmaker, account):
    tenant, provider, devices = account
    rows = await submit_and_read(
        api, sessionmaker, tenant, customer_rate_plan(devices[:1], provider, DataAllocationMB=0)
    )
    assert rows[devices[0].iccid].params["data_allocation_mb"] == 0
