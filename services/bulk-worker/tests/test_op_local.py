"""The database-only change types: customer rate plan, customer assignment, archival."""

from __future__ import annotations

from datetime import UTC, datetime

from change_helpers import add_changes, changes_of, devices_by_id, run, steps_of
from sqlalchemy import select

from devicebulk_common.contracts import ChangeType
from devicebulk_common.models import (
    BulkChange,
    CustomerRatePlan,
    CustomerRatePool,
    RevCustomer,
    RevService,
)
from devicebulk_devstack.testdata import unique_id


async def _catalogue(sessionmaker, world) -> tuple[int, int, str, str]:
    plan = CustomerRatePlan(id=unique_id(), tenant_id=world.tenant.id, name="Gold")
    pool = CustomerRatePool(id=unique_id(), tenant_id=world.tenant.id, name="Pool")
    first = RevCustomer(id=f"R{unique_id()}", tenant_id=world.tenant.id, name="First")
    second = RevCustomer(id=f"R{unique_id()}", tenant_id=world.tenant.id, name="Second")
    async with sessionmaker() as s, s.begin():
        s.add_all([plan, pool, first, second])
    return plan.id, pool.id, first.id, second.id


async def _services(sessionmaker, device_id: int) -> list[RevService]:
    async with sessionmaker() as s:
        return list(
            (await s.scalars(select(RevService).where(RevService.device_id == device_id))).all()
        )


async def test_customer_rate_plan_sets_what_is_given_and_leaves_the_rest(
    handler, world, sessionmaker
):
    plan, pool, _, _ = await _catalogue(sessionmaker, world)
    a, b, _ = world.devices
    full = {
        "op": "change_customer_plan",
        "customer_rate_plan_id": plan,
        "customer_rate_pool_id": pool,
        "data_allocation_mb": 1024,
    }
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.CUSTOMER_RATE_PLAN_CHANGE,
        [(a, full), (b, {**full, "customer_rate_pool_id": None, "data_allocation_mb": None})],
    )

    await run(handler, messages)

    changes = await changes_of(sessionmaker, messages)
    assert [dc.status for dc in changes] == ["Success", "Success"]
    devices = await devices_by_id(sessionmaker, [a.id, b.id])
    assert (
        devices[a.id].customer_rate_plan_id,
        devices[a.id].customer_rate_pool_id,
        devices[a.id].data_allocation_mb,
    ) == (plan, pool, 1024)
    assert (devices[b.id].customer_rate_plan_id, devices[b.id].customer_rate_pool_id) == (
        plan,
        None,
    )
    assert changes[1].result == {"customer_rate_plan_id": plan}
    steps = await steps_of(sessionmaker, changes[0].id)
    assert [(s.step, s.status) for s in steps] == [
        ("attempt", "Processing"),
        ("database:change_customer_plan", "Success"),
    ]
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, messages[0].bulk_change_id)
    assert bulk.status == "PROCESSED" and bulk.remaining_count == 0


async def test_customer_assignment_creates_then_moves_the_rev_service(handler, world, sessionmaker):
    _, _, first, second = await _catalogue(sessionmaker, world)
    device, plain, _ = world.devices

    def assign(customer: str, create: bool) -> dict:
        return {"op": "assign_customer", "rev_customer_id": customer, "create_rev_service": create}

    created = await add_changes(
        sessionmaker,
        world,
        ChangeType.CUSTOMER_ASSIGNMENT,
        [(device, assign(first, True)), (plain, assign(first, False))],
    )
    await run(handler, created)
    [service] = await _services(sessionmaker, device.id)
    moved = await add_changes(
        sessionmaker, world, ChangeType.CUSTOMER_ASSIGNMENT, [(device, assign(second, True))]
    )
    await run(handler, moved)

    first_round = await changes_of(sessionmaker, created)
    assert [dc.status for dc in first_round] == ["Success", "Success"]
    assert first_round[0].result == {
        "rev_customer_id": first,
        "rev_service": "created",
        "rev_service_id": service.id,
    }
    (again,) = await changes_of(sessionmaker, moved)
    assert again.result["rev_service"] == "updated"
    [after] = await _services(sessionmaker, device.id)
    assert (after.id, after.rev_customer_id, after.is_active) == (service.id, second, True)
    devices = await devices_by_id(sessionmaker, [device.id, plain.id])
    assert (devices[device.id].rev_customer_id, devices[plain.id].rev_customer_id) == (
        second,
        first,
    )
    assert await _services(sessionmaker, plain.id) == []


async def test_archival_sets_the_device_inactive_and_deleted(handler, world, sessionmaker):
    device = world.devices[0]
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.ARCHIVAL,
        [(device, {"op": "archive"})],
        request={"ChangeType": 5, "OverrideValidation": True},
    )

    await run(handler, messages)

    (change,) = await changes_of(sessionmaker, messages)
    assert change.status == "Success" and change.completed_at <= datetime.now(UTC)
    stored = (await devices_by_id(sessionmaker, [device.id]))[device.id]
    assert (stored.is_active, stored.is_deleted) == (False, True)
    assert [s.step for s in await steps_of(sessionmaker, change.id)] == [
        "attempt",
        "database:archive",
    ]


async def test_a_device_gone_from_the_inventory_is_refused(handler, world, sessionmaker):
    messages = await add_changes(
        sessionmaker, world, ChangeType.ARCHIVAL, [(None, {"op": "archive"})]
    )

    await run(handler, messages)

    (change,) = await changes_of(sessionmaker, messages)
    assert (change.status, change.error_code) == ("Failed", "DeviceNotFound")


async def test_a_customer_or_plan_removed_since_validation_is_refused_not_retried(
    handler, world, sessionmaker
):
    a, b, _ = world.devices
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.CUSTOMER_ASSIGNMENT,
        [
            (a, {"op": "assign_customer", "rev_customer_id": "gone", "create_rev_service": True}),
            (b, {"op": "change_customer_plan", "customer_rate_plan_id": -1}),
        ],
    )

    await run(handler, messages)

    changes = await changes_of(sessionmaker, messages)
    assert [(dc.status, dc.error_code) for dc in changes] == [
        ("Failed", "RevCustomerNotFound"),
        ("Failed", "CustomerRatePlanNotFound"),
    ]
    devices = await devices_by_id(sessionmaker, [a.id, b.id])
    assert devices[a.id].rev_customer_id is None and devices[b.id].customer_rate_plan_id is None
