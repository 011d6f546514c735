"""Every change type through the real processes: the portal's request to intake, the relay,
RabbitMQ, the worker, the ThingSpace simulator and its callbacks, the receiver, and the
notifier's email. One stack (and one fleet) for the whole module; a few devices each."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import select

from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.db.migrate import upgrade
from devicebulk_common.models import (
    CarrierRatePlan,
    CustomerRatePlan,
    CustomerRatePool,
    DeviceIdentifierHistory,
    RevCustomer,
    RevService,
)
from devicebulk_devstack.processes import Ports, Stack, StackConfig
from devicebulk_devstack.testdata import make_iccid, make_imei, unique_id
from tests.e2e.change_support import (
    Fleet,
    Spec,
    add_devices,
    add_rows,
    at_carrier,
    changes,
    create_fleet,
    mail_for,
    records,
    steps,
    submit,
    trail,
)
from tests.e2e.conftest import TEST_STACK_ENV

pytestmark = pytest.mark.e2e

PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_HOST = os.environ.get("TEST_PG_HOST", "postgres@127.0.0.1:5432")
AMQP_HOST = os.environ.get("TEST_AMQP_HOST", "guest:guest@127.0.0.1:5672")

PLACE = {
    "Address": {
        "AddressLine1": "9868 Scranton Rd",
        "City": "San Diego",
        "State": "CA",
        "Zip": "92121",
        "Country": "USA",
    },
    "CustomerName": {"FirstName": "Ada", "LastName": "Field"},
}


# ---- one stack for the module -------------------------------------------------------------------


@pytest.fixture(scope="module")
async def changes_database_url(run_id) -> AsyncIterator[str]:
    name = f"devicebulk_test_{run_id}_changes_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://{PG_HOST}/{name}"
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def changes_amqp_url(run_id) -> Iterator[str]:
    name = f"devicebulk_test_{run_id}_changes_{uuid.uuid4().hex[:6]}"
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    yield f"amqp://{AMQP_HOST}/{name}"
    _rabbitmqctl("delete_vhost", name)


@pytest.fixture(scope="module")
def change_stack(
    changes_database_url, changes_amqp_url, credentials_key, tmp_path_factory
) -> Iterator[Stack]:
    config = StackConfig(
        database_url=changes_database_url,
        rabbitmq_url=changes_amqp_url,
        credentials_key=credentials_key,
        var_dir=tmp_path_factory.mktemp("changes") / "var",
        ports=Ports.free(),
        callback_delay_s=0.1,
        extra_env={**TEST_STACK_ENV, "WORKER_BATCH_WAIT_S": "0.1"},
    )
    running = Stack(config)
    try:
        running.start_carrier_and_mail()
        running.start_services()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
async def db(changes_database_url):
    engine = create_engine(changes_database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(scope="module")
def fleet(change_stack) -> Fleet:
    return create_fleet(change_stack)


# ---- ChangeType 3: activation, and only the place of use for devices already active ----------


async def test_status_update_activates_and_only_updates_the_place_of_use_of_active_devices(
    change_stack, db, fleet
):
    fresh = await add_devices(
        change_stack, db, fleet, [Spec(status="preactive", at_carrier="preactive")] * 4
    )
    active = await add_devices(change_stack, db, fleet, [Spec()] * 2)
    mdns_before = [at_carrier(change_stack, d.iccid)["mdn"] for d in active]

    bulk_id, view, operator = await submit(
        change_stack,
        fleet,
        {
            "ChangeType": 3,
            "Devices": [d.iccid for d in fresh + active],
            "StatusUpdate": {
                "TargetStatus": "Active",
                "ThingSpaceStatusUpdate": {
                    "ServicePlan": "M2M_4G",
                    "ZipCode": "92121",
                    "PrimaryPlaceOfUse": PLACE,
                },
            },
        },
    )

    assert view["Status"] == "PROCESSED" and view["Counts"] == {"Success": 6}
    stored = await records(db, fresh + active)
    assert all(d.status == "active" and d.msisdn for d in stored)
    assert [d.msisdn for d in stored[4:]] == [d.msisdn for d in active]
    carrier = [at_carrier(change_stack, d.iccid) for d in fresh + active]
    assert all(c["primaryPlaceOfUse"]["address"]["zip"] == "92121" for c in carrier)
    assert [c["mdn"] for c in carrier[4:]] == mdns_before  # not activated a second time
    by_iccid = await changes(db, bulk_id)
    audit = await trail(db, bulk_id)
    for device, op in [(d, "activate") for d in fresh] + [
        (d, "update_place_of_use") for d in active
    ]:
        assert steps(audit[by_iccid[device.iccid].id]) == [
            ("attempt", "Processing"),
            (f"carrier:{op}", "AwaitingCallback"),
            ("callback", "Success"),
        ]
    mail = await mail_for(change_stack, bulk_id)
    assert mail.message["To"] == operator
    assert "6 succeeded, 0 failed" in mail.subject
    assert [r["status"] for r in mail.rows] == ["Success"] * 6


# ---- ChangeType 7: carrier rate plan ------------------------------------------------------------


async def test_carrier_rate_plan_change_with_intake_and_carrier_refusals(change_stack, db, fleet):
    plan = f"M2M_5G_{unique_id()}"
    await add_rows(db, CarrierRatePlan(service_provider_id=fleet.provider_id, code=plan))
    fine = await add_devices(change_stack, db, fleet, [Spec()] * 3)
    (suspended,) = await add_devices(
        change_stack, db, fleet, [Spec(status="suspended", at_carrier="suspend")]
    )
    (worn_out,) = await add_devices(
        change_stack, db, fleet, [Spec(carrier_extra={"planChangesThisMonth": 4})]
    )

    bulk_id, view, _ = await submit(
        change_stack,
        fleet,
        {
            "ChangeType": 7,
            "Devices": [d.iccid for d in [*fine, suspended, worn_out]],
            "CarrierRatePlanUpdate": {"CarrierRatePlan": plan},
        },
    )

    assert view["Counts"] == {"Success": 3, "Failed": 1, "ValidationFailed": 1}
    by_iccid = await changes(db, bulk_id)
    assert by_iccid[suspended.iccid].status == "ValidationFailed"
    refused = by_iccid[worn_out.iccid]
    assert refused.status == "Failed"
    assert refused.error_code == "UnifiedWebService.REQUEST_FAILED.ServicePlan.ChangeLimitExceeded"
    stored = await records(db, [*fine, suspended, worn_out])
    assert [d.carrier_rate_plan for d in stored] == [plan] * 3 + ["M2M_4G"] * 2
    assert {at_carrier(change_stack, d.iccid)["servicePlan"] for d in fine} == {plan}
    audit = await trail(db, bulk_id)
    assert steps(audit[by_iccid[fine[0].iccid].id]) == [
        ("attempt", "Processing"),
        ("carrier:change_plan", "AwaitingCallback"),
        ("callback", "Success"),
    ]
    assert steps(audit[refused.id])[-1] == ("callback", "Failed")
    assert by_iccid[suspended.iccid].id not in audit  # never reached the worker
    mail = await mail_for(change_stack, bulk_id)
    assert "3 succeeded, 2 failed" in mail.subject
    assert "ChangeLimitExceeded" in mail.text and "suspended" in mail.text


# ---- ChangeType 8: ICCID or IMEI ----------------------------------------------------------------


async def test_identifier_changes_move_the_records_and_keep_the_old_identifiers(
    change_stack, db, fleet
):
    customer_plan = CustomerRatePlan(id=unique_id(), tenant_id=fleet.tenant_id, name="Gold")
    await add_rows(db, customer_plan)
    first, second, third = await add_devices(change_stack, db, fleet, [Spec()] * 3)
    base = unique_id() * 1000
    new_first, new_second = make_iccid(base + 1), make_iccid(base + 2)
    new_imei = make_imei((base + 3) % 1_000_000)

    bulk_id, view, _ = await submit(
        change_stack,
        fleet,
        {
            "ChangeType": 8,
            "IdentifierChanges": [
                {
                    "IdentifierType": "ICCID",
                    "OldICCID": first.iccid,
                    "NewICCID": new_first,
                    "OldIMEI": first.imei,
                    "AddCustomerRatePlan": False,
                },
                {
                    "IdentifierType": "ICCID",
                    "OldICCID": second.iccid,
                    "NewICCID": new_second,
                    "AddCustomerRatePlan": True,
                    "CustomerRatePlanId": customer_plan.id,
                },
                {
                    "IdentifierType": "IMEI",
                    "OldICCID": third.iccid,
                    "OldIMEI": third.imei,
                    "NewIMEI": new_imei,
                },
            ],
        },
    )

    assert view["Counts"] == {"Success": 3}
    stored = await records(db, [first, second, third])
    assert [d.iccid for d in stored] == [new_first, new_second, third.iccid]
    assert stored[2].imei == new_imei and stored[0].imei == first.imei
    assert stored[1].customer_rate_plan_id == customer_plan.id
    async with db() as s:
        history = (
            await s.scalars(
                select(DeviceIdentifierHistory).where(
                    DeviceIdentifierHistory.device_id.in_([d.id for d in stored])
                )
            )
        ).all()
    assert {(h.device_id, h.identifier_type, h.old_value, h.new_value) for h in history} == {
        (first.id, "ICCID", first.iccid, new_first),
        (second.id, "ICCID", second.iccid, new_second),
        (third.id, "IMEI", third.imei, new_imei),
    }
    assert at_carrier(change_stack, new_first)["imei"] == first.imei
    assert at_carrier(change_stack, first.iccid) is None
    assert at_carrier(change_stack, third.iccid)["imei"] == new_imei
    by_iccid = await changes(db, bulk_id)
    audit = await trail(db, bulk_id)
    assert len({dc.carrier_request_id for dc in by_iccid.values()}) == 3  # one device a request
    [call] = [e for e in audit[by_iccid[first.iccid].id] if e.step == "carrier:change_identifier"]
    assert call.http_status == 200 and new_first in call.request_text
    assert steps(audit[by_iccid[third.iccid].id])[-1] == ("callback", "Success")
    mail = await mail_for(change_stack, bulk_id)
    assert "3 succeeded, 0 failed" in mail.subject
    assert {r["status"] for r in mail.rows} == {"Success"}


# ---- ChangeType 6: username and cost center -----------------------------------------------------


async def test_edit_username_confirms_the_custom_field_then_the_cost_center(
    change_stack, db, fleet
):
    devices = await add_devices(change_stack, db, fleet, [Spec()] * 5)

    bulk_id, view, _ = await submit(
        change_stack,
        fleet,
        {
            "ChangeType": 6,
            "Devices": [d.iccid for d in devices],
            "Username": {"NewUsername": "DEVICE_001", "CostCenter": "DEPT_SALES_001"},
        },
    )

    assert view["Counts"] == {"Success": 5}
    stored = await records(db, devices)
    assert {(d.username, d.cost_center) for d in stored} == {("DEVICE_001", "DEPT_SALES_001")}
    carrier = at_carrier(change_stack, devices[0].iccid)
    assert carrier["customFields"] == [{"key": "CustomField1", "value": "DEVICE_001"}]
    assert carrier["costCenterCode"] == "DEPT_SALES_001"
    by_iccid = await changes(db, bulk_id)
    audit = await trail(db, bulk_id)
    entries = audit[by_iccid[devices[0].iccid].id]
    assert steps(entries) == [
        ("attempt", "Processing"),
        ("carrier:edit_username", "AwaitingCallback"),
        ("callback", "Queued"),
        ("attempt", "Processing"),
        ("carrier:edit_username", "AwaitingCallback"),
        ("callback", "Success"),
    ]
    requests = [e.http_url.rsplit("/", 1)[-1] for e in entries if e.http_url]
    assert requests == ["customFields", "costCenter"]
    result = by_iccid[devices[0].iccid].result
    assert result == {"username": "DEVICE_001", "cost_center": "DEPT_SALES_001"}
    mail = await mail_for(change_stack, bulk_id)
    assert "5 succeeded, 0 failed" in mail.subject


# ---- ChangeType 9: device deletion --------------------------------------------------------------


async def test_device_deletion_of_deactivated_devices(change_stack, db, fleet):
    deactivated = await add_devices(
        change_stack, db, fleet, [Spec(status="deactivated", at_carrier="deactive")] * 4
    )
    (still_active_there,) = await add_devices(
        change_stack, db, fleet, [Spec(status="deactivated", at_carrier="active")]
    )
    (active,) = await add_devices(change_stack, db, fleet, [Spec()])

    bulk_id, view, _ = await submit(
        change_stack,
        fleet,
        {"ChangeType": 9, "Devices": [d.iccid for d in [*deactivated, still_active_there, active]]},
    )

    assert view["Counts"] == {"Success": 4, "Failed": 1, "ValidationFailed": 1}
    stored = await records(db, [*deactivated, still_active_there, active])
    assert [(d.status, d.is_deleted) for d in stored] == [("not_provisioned", True)] * 4 + [
        ("deactivated", False),
        ("active", False),
    ]
    assert [at_carrier(change_stack, d.iccid) for d in deactivated] == [None] * 4
    assert at_carrier(change_stack, still_active_there.iccid)["state"] == "active"
    by_iccid = await changes(db, bulk_id)
    refused = by_iccid[still_active_there.iccid]
    assert refused.status == "Failed" and "active" in refused.error_message
    audit = await trail(db, bulk_id)
    assert steps(audit[by_iccid[deactivated[0].iccid].id]) == [
        ("attempt", "Processing"),
        ("carrier:delete", "Success"),
    ]
    assert len({e.http_url for entries in audit.values() for e in entries if e.http_url}) == 1
    mail = await mail_for(change_stack, bulk_id)
    assert "4 succeeded, 2 failed" in mail.subject


# ---- database only: ChangeTypes 1, 4 and 5 ------------------------------------------------------


async def test_customer_assignment_creates_rev_services(change_stack, db, fleet):
    customer = RevCustomer(id=f"R{unique_id()}", tenant_id=fleet.tenant_id, name="Rev customer")
    await add_rows(db, customer)
    devices = await add_devices(change_stack, db, fleet, [Spec()] * 5)

    bulk_id, view, _ = await submit(
        change_stack,
        fleet,
        {
            "ChangeType": 1,
            "Devices": [d.iccid for d in devices],
            "RevService": {"RevCustomerId": customer.id, "CreateRevService": True},
        },
    )

    assert view["Counts"] == {"Success": 5}
    assert {d.rev_customer_id for d in await records(db, devices)} == {customer.id}
    async with db() as s:
        services = (
            await s.scalars(
                select(RevService).where(RevService.device_id.in_([d.id for d in devices]))
            )
        ).all()
    assert sorted(s.device_id for s in services) == sorted(d.id for d in devices)
    assert {(s.rev_customer_id, s.is_active) for s in services} == {(customer.id, True)}
    audit = await trail(db, bulk_id)
    assert {tuple(steps(entries)) for entries in audit.values()} == {
        (("attempt", "Processing"), ("database:assign_customer", "Success"))
    }
    mail = await mail_for(change_stack, bulk_id)
    assert "5 succeeded, 0 failed" in mail.subject


async def test_customer_rate_plan_change(change_stack, db, fleet):
    plan = CustomerRatePlan(id=unique_id(), tenant_id=fleet.tenant_id, name="Silver")
    pool = CustomerRatePool(id=unique_id(), tenant_id=fleet.tenant_id, name="Shared pool")
    await add_rows(db, plan, pool)
    devices = await add_devices(change_stack, db, fleet, [Spec()] * 5)

    bulk_id, view, _ = await submit(
        change_stack,
        fleet,
        {
            "ChangeType": 4,
            "Devices": [d.iccid for d in devices],
            "CustomerRatePlanUpdate": {
                "CustomerRatePlanId": plan.id,
                "CustomerRatePoolId": pool.id,
                "DataAllocationMB": 1024,
            },
        },
    )

    assert view["Counts"] == {"Success": 5}
    assert {
        (d.customer_rate_plan_id, d.customer_rate_pool_id, d.data_allocation_mb)
        for d in await records(db, devices)
    } == {(plan.id, pool.id, 1024)}
    audit = await trail(db, bulk_id)
    assert {tuple(steps(entries)) for entries in audit.values()} == {
        (("attempt", "Processing"), ("database:change_customer_plan", "Success"))
    }
    mail = await mail_for(change_stack, bulk_id)
    assert "5 succeeded, 0 failed" in mail.subject


async def test_archival_refuses_recent_use_and_active_rev_services(change_stack, db, fleet):
    long_ago = datetime.now(UTC) - timedelta(days=90)
    idle = await add_devices(change_stack, db, fleet, [Spec(last_usage_at=long_ago)] * 3)
    (recent,) = await add_devices(
        change_stack, db, fleet, [Spec(last_usage_at=datetime.now(UTC) - timedelta(days=2))]
    )
    (served,) = await add_devices(change_stack, db, fleet, [Spec(last_usage_at=long_ago)])
    customer = RevCustomer(id=f"R{unique_id()}", tenant_id=fleet.tenant_id, name="Rev customer")
    await add_rows(db, customer)
    await add_rows(db, RevService(device_id=served.id, rev_customer_id=customer.id))

    bulk_id, view, _ = await submit(
        change_stack,
        fleet,
        {"ChangeType": 5, "Devices": [d.iccid for d in [*idle, recent, served]]},
    )

    assert view["Counts"] == {"Success": 3, "ValidationFailed": 2}
    stored = await records(db, [*idle, recent, served])
    assert [(d.is_active, d.is_deleted) for d in stored] == [(False, True)] * 3 + [
        (True, False)
    ] * 2
    by_iccid = await changes(db, bulk_id)
    audit = await trail(db, bulk_id)
    assert steps(audit[by_iccid[idle[0].iccid].id]) == [
        ("attempt", "Processing"),
        ("database:archive", "Success"),
    ]
    mail = await mail_for(change_stack, bulk_id)
    assert "3 succeeded, 2 failed" in mail.subject
    assert "30 days" in mail.text and "Rev service" in mail.text
