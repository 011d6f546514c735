"""The catalogue commands (carrier rate plans, Rev customers, customer rate plans and pools)
and `seed-demo --examples`, against the real database and simulator."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from devicebulk_admin.demo import seed_demo
from devicebulk_admin.demo_catalogue import EXAMPLE_DEVICES
from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.models import (
    CarrierRatePlan,
    CustomerRatePlan,
    CustomerRatePool,
    Device,
    RevCustomer,
)


async def test_carrier_rate_plans_are_created_updated_and_listed(factory, sessionmaker, run_cli):
    provider = await factory.provider()
    p = str(provider.id)
    run = await run_cli(
        "create-carrier-rate-plan", "--provider", p, "--code", "M2M_4G", "--name", "4G"
    )
    assert run.code == 0, run.err
    assert "created carrier rate plan M2M_4G (4G, active)" in run.out
    run = await run_cli("create-carrier-rate-plan", "--provider", p, "--code", "OLD_PLAN")
    assert run.code == 0, run.err

    run = await run_cli(
        "update-carrier-rate-plan", "--provider", p, "--code", "OLD_PLAN", "--inactive"
    )
    assert run.code == 0, run.err
    run = await run_cli("list-carrier-rate-plans", "--provider", p, "--json")
    assert run.code == 0, run.err
    listed = json.loads(run.out)["entries"]
    assert [(e["key"], e["name"], e["is_active"]) for e in listed] == [
        ("M2M_4G", "4G", True),
        ("OLD_PLAN", None, False),
    ]
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(CarrierRatePlan.code, CarrierRatePlan.is_active).where(
                    CarrierRatePlan.service_provider_id == provider.id
                )
            )
        ).all()
    assert sorted(rows) == [("M2M_4G", True), ("OLD_PLAN", False)]


async def test_a_duplicate_plan_is_an_error_unless_if_not_exists(factory, run_cli):
    provider = await factory.provider()
    args = ("create-carrier-rate-plan", "--provider", str(provider.id), "--code", "P1")
    assert (await run_cli(*args)).code == 0
    again = await run_cli(*args)
    assert again.code == 1
    assert "carrier rate plan P1 already exists" in again.err
    assert (await run_cli(*args, "--if-not-exists")).code == 0


async def test_tenant_catalogue_entries_are_created_and_updated(
    new_id, factory, sessionmaker, run_cli
):
    tenant = await factory.tenant()
    t = str(tenant.id)
    rev, plan, pool = f"R{new_id()}", str(new_id()), str(new_id())
    for args in (
        ("create-rev-customer", "--tenant", t, "--id", rev, "--name", "Rev one"),
        ("create-customer-rate-plan", "--tenant", t, "--id", plan, "--name", "Plan one"),
        ("create-customer-rate-pool", "--tenant", t, "--id", pool, "--name", "Pool one"),
        (
            "update-customer-rate-pool",
            "--tenant",
            t,
            "--id",
            pool,
            "--name",
            "Pool 1",
            "--inactive",
        ),
    ):
        run = await run_cli(*args)
        assert run.code == 0, (args, run.err)
    async with sessionmaker() as session:
        customer = await session.get(RevCustomer, rev)
        rate_plan = await session.get(CustomerRatePlan, int(plan))
        rate_pool = await session.get(CustomerRatePool, int(pool))
    assert (customer.tenant_id, customer.name, customer.is_active) == (tenant.id, "Rev one", True)
    assert (rate_plan.tenant_id, rate_plan.name) == (tenant.id, "Plan one")
    assert (rate_pool.name, rate_pool.is_active) == ("Pool 1", False)
    run = await run_cli("list-rev-customers", "--tenant", t)
    assert f"Rev customer {rev} (Rev one, active)" in run.out


async def test_another_tenants_entry_is_neither_changed_nor_listed(new_id, factory, run_cli):
    owner, other = await factory.tenant(), await factory.tenant()
    plan = str(new_id())
    args = ("--id", plan, "--name", "Owner's plan")
    assert (await run_cli("create-customer-rate-plan", "--tenant", str(owner.id), *args)).code == 0

    taken = await run_cli("create-customer-rate-plan", "--tenant", str(other.id), *args)
    assert taken.code == 1
    assert f"customer rate plan {plan} belongs to another tenant" in taken.err
    changed = await run_cli(
        "update-customer-rate-plan", "--tenant", str(other.id), "--id", plan, "--inactive"
    )
    assert changed.code == 1
    listed = await run_cli("list-customer-rate-plans", "--tenant", str(other.id))
    assert plan not in listed.out


async def test_bad_catalogue_input_is_a_clear_error(factory, run_cli):
    tenant = await factory.tenant()
    too_big = await run_cli(
        "create-customer-rate-plan", "--tenant", str(tenant.id), "--id", "2147483648", "--name", "x"
    )
    assert too_big.code == 1
    assert "an integer from 1 to 2147483647" in too_big.err
    missing = await run_cli(
        "create-rev-customer", "--tenant", "2147480000", "--id", "R1", "--name", "x"
    )
    assert missing.code == 1
    assert "tenant 2147480000 does not exist" in missing.err
    assert "Traceback" not in too_big.err + missing.err


@pytest.fixture
async def own_sessionmaker(private_database_url):
    """The examples' ids (Rev customer 12345, plan 123, ...) are global: a database of its own."""
    engine = create_engine(private_database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_seed_demo_with_examples_seeds_what_the_openapi_examples_name(
    new_id, own_sessionmaker, sim_server, credentials_key
) -> None:
    sessionmaker = own_sessionmaker
    tenant_id, provider_id = new_id(), 9002

    async def seed():
        return await seed_demo(
            sessionmaker,
            tenant_id=tenant_id,
            provider_id=provider_id,
            devices=2,
            credentials_key=credentials_key,
            sim_url=sim_server.url,
            examples=True,
        )

    first = await seed()
    assert (first.catalogue_created, first.example_devices_added) == (9, len(EXAMPLE_DEVICES))
    async with sessionmaker() as session:
        plans = (
            await session.execute(
                select(CarrierRatePlan.code).where(
                    CarrierRatePlan.service_provider_id == provider_id
                )
            )
        ).scalars()
        assert {"M2M_4G", "STANDARD_PLAN_001"} <= set(plans)
        assert (await session.get(RevCustomer, "12345")).tenant_id == tenant_id
        assert (await session.get(CustomerRatePlan, 123)).is_active
        assert (await session.get(CustomerRatePool, 456)).is_active
        stored = {
            d.iccid: d
            for d in (
                await session.execute(
                    select(Device).where(Device.service_provider_id == provider_id)
                )
            ).scalars()
        }
    carrier_states = {"active": "active", "suspended": "suspend", "deactivated": "deactive"}
    for example in EXAMPLE_DEVICES:
        device = stored[example.iccid]
        assert (device.tenant_id, device.status, device.imei, device.msisdn) == (
            tenant_id, example.status.value, example.imei, example.msisdn,
        )  # fmt: skip
        carrier = sim_server.sim.state.devices.get(example.iccid)
        if example.status == "not_provisioned":
            assert carrier is None  # the inventory example adds it at the carrier
        else:
            wanted = carrier_states.get(example.status.value, example.status.value)
            assert (carrier.state, carrier.imei) == (wanted, example.imei)
    # Each example has devices of its own, in the state it needs.
    assert len(stored) == 2 + len({d.iccid for d in EXAMPLE_DEVICES}) == 2 + len(EXAMPLE_DEVICES)

    second = await seed()
    assert (second.catalogue_created, second.example_devices_added) == (0, 0)
