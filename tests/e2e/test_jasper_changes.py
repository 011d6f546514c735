"""Every change type of a Cisco Control Center provider (POD19) through the real processes: the
portal's request to intake, the relay, RabbitMQ, the worker, jasper-sim over HTTP (one PUT a
device, read back), and the notifier's email. One stack for the whole module; jasper-sim's cap
is far above what the worker sends except where a test is about the cap."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from devicebulk_common.carriers.jasper.status_graph import NEUTRAL_STATUS
from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.models import (
    BulkChange,
    CustomerRatePlan,
    CustomerRatePool,
    Device,
    RevCustomer,
    RevService,
)
from devicebulk_devstack.processes import Stack
from devicebulk_devstack.testdata import unique_id
from tests.e2e.change_support import add_rows, changes, headers, mail_for, records, steps, submit
from tests.e2e.change_support import trail as audit_trail
from tests.e2e.conftest import admin
from tests.e2e.jasper_stack import module_database, module_vhost, running_stack
from tests.e2e.jasper_support import (
    COST_CENTER_FIELD,
    PLANS,
    USERNAME_FIELD,
    JasperFleet,
    accepted_puts,
    add_sims,
    assert_logs_free_of_credentials,
    assert_no_credentials,
    assert_username_fields_written_once,
    at_jasper,
    calls_by,
    calls_for,
    carrier_exchange,
    create_jasper_fleet,
    edits_per_device,
    jasper,
)

pytestmark = pytest.mark.e2e

POD19 = 19


# ---- one stack for the module -------------------------------------------------------------------


@pytest.fixture(scope="module")
async def jasper_database_url(run_id) -> AsyncIterator[str]:
    async with module_database(run_id) as url:
        yield url


@pytest.fixture(scope="module")
def jasper_stack(jasper_database_url, run_id, credentials_key, tmp_path_factory) -> Iterator[Stack]:
    var_dir = tmp_path_factory.mktemp("jasper") / "var"
    with (
        module_vhost(run_id) as amqp_url,
        running_stack(jasper_database_url, amqp_url, credentials_key, var_dir) as stack,
    ):
        yield stack


@pytest.fixture(scope="module")
async def db(jasper_database_url):
    engine = create_engine(jasper_database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(scope="module")
def tenant_id(jasper_stack) -> int:
    tenant = unique_id()
    admin(jasper_stack, "create-tenant", "--id", str(tenant), "--name", "Control Center tenant")
    return tenant


@pytest.fixture(scope="module")
def pod19(jasper_stack, tenant_id) -> JasperFleet:
    return create_jasper_fleet(jasper_stack, tenant_id, provider_id=POD19)


# ---- ChangeType 3: a status change to each kind of target the status graph allows ----------

TRANSITIONS = [
    # (SIM status before, the portal's TargetStatus, SIM status after)
    ("ACTIVATION_READY", "Active", "ACTIVATED"),
    ("ACTIVATED", "Deactive", "DEACTIVATED"),
    ("DEACTIVATED", "ACTIVATED", "ACTIVATED"),
    ("DEACTIVATED", "RETIRED", "RETIRED"),
    ("INVENTORY", "TEST_READY", "TEST_READY"),
    ("TEST_READY", "activation_ready", "ACTIVATION_READY"),
]


@pytest.mark.parametrize(
    ("before", "target", "after"), TRANSITIONS, ids=[f"{b}-to-{a}" for b, _, a in TRANSITIONS]
)
async def test_status_update_moves_each_sim_to_the_target_status(
    before, target, after, jasper_stack, db, pod19
):
    devices = await add_sims(jasper_stack, db, pod19, [before] * 3)

    bulk_id, view, operator = await submit(
        jasper_stack,
        pod19,
        {
            "ChangeType": 3,
            "Devices": [d.iccid for d in devices],
            "StatusUpdate": {"TargetStatus": target},
        },
    )

    assert view["Status"] == "PROCESSED" and view["Counts"] == {"Success": 3}, view
    assert {d.status for d in await records(db, devices)} == {NEUTRAL_STATUS[after]}
    assert [at_jasper(jasper_stack, d.iccid)["status"] for d in devices] == [after] * 3
    assert edits_per_device(jasper_stack, devices) == {d.iccid: 1 for d in devices}
    by_iccid = await changes(db, bulk_id)
    assert {dc.result["status"] for dc in by_iccid.values()} == {after}
    audit = await audit_trail(db, bulk_id)
    entries = audit[by_iccid[devices[0].iccid].id]
    assert steps(entries) == [("attempt", "Processing"), ("carrier:set_status", "Success")]
    put = carrier_exchange(entries, "carrier:set_status")
    assert put.http_method == "PUT" and put.http_status == 200
    assert devices[0].iccid in (put.http_url or "")
    assert json.loads(put.request_text) == {"status": after}
    assert json.loads(put.response_text or "null") == {"iccid": devices[0].iccid}
    await assert_no_credentials(db, bulk_id, pod19)
    mail = await mail_for(jasper_stack, bulk_id)
    assert mail.message["To"] == operator
    assert "3 succeeded, 0 failed" in mail.subject
    assert sorted((r["iccid"], r["status"]) for r in mail.rows) == sorted(
        (d.iccid, "Success") for d in devices
    )


# ---- ChangeType 7: carrier rate plan ------------------------------------------------------------


async def test_carrier_rate_plan_change_moves_the_sims_to_the_plan(jasper_stack, db, pod19):
    devices = await add_sims(jasper_stack, db, pod19, ["ACTIVATED"] * 3, plan=PLANS[0])

    bulk_id, view, _ = await submit(
        jasper_stack,
        pod19,
        {
            "ChangeType": 7,
            "Devices": [d.iccid for d in devices],
            "CarrierRatePlanUpdate": {"CarrierRatePlan": PLANS[1]},
        },
    )

    assert view["Counts"] == {"Success": 3}, view
    assert {d.carrier_rate_plan for d in await records(db, devices)} == {PLANS[1]}
    assert {at_jasper(jasper_stack, d.iccid)["ratePlan"] for d in devices} == {PLANS[1]}
    assert edits_per_device(jasper_stack, devices) == {d.iccid: 1 for d in devices}
    by_iccid = await changes(db, bulk_id)
    audit = await audit_trail(db, bulk_id)
    entries = audit[by_iccid[devices[0].iccid].id]
    assert steps(entries) == [("attempt", "Processing"), ("carrier:change_plan", "Success")]
    put = carrier_exchange(entries, "carrier:change_plan")
    assert put.http_method == "PUT" and json.loads(put.request_text) == {"ratePlan": PLANS[1]}
    assert json.loads(put.response_text or "null") == {"iccid": devices[0].iccid}
    await assert_no_credentials(db, bulk_id, pod19)
    mail = await mail_for(jasper_stack, bulk_id)
    assert "3 succeeded, 0 failed" in mail.subject
    assert {r["status"] for r in mail.rows} == {"Success"}


# ---- ChangeType 6: username and cost center -----------------------------------------------------


async def test_edit_username_writes_both_custom_fields_once(jasper_stack, db, pod19):
    devices = await add_sims(
        jasper_stack, db, pod19, ["ACTIVATED"] * 3, custom={USERNAME_FIELD: "old-user"}
    )

    bulk_id, view, _ = await submit(
        jasper_stack,
        pod19,
        {
            "ChangeType": 6,
            "Devices": [d.iccid for d in devices],
            "Username": {"NewUsername": "field-unit-7", "CostCenter": "CC-4410"},
        },
    )

    assert view["Counts"] == {"Success": 3}, view
    stored = await records(db, devices)
    assert {(d.username, d.cost_center) for d in stored} == {("field-unit-7", "CC-4410")}
    assert_username_fields_written_once(jasper_stack, devices, "field-unit-7", "CC-4410")
    by_iccid = await changes(db, bulk_id)
    assert {tuple(sorted(dc.result.items())) for dc in by_iccid.values()} == {
        (("cost_center", "CC-4410"), ("username", "field-unit-7"))
    }
    audit = await audit_trail(db, bulk_id)
    entries = audit[by_iccid[devices[0].iccid].id]
    assert steps(entries)[-1] == ("carrier:edit_username", "Success")
    sent: dict[str, str] = {}
    for entry in entries:
        if entry.request_text and entry.http_method == "PUT":
            sent |= json.loads(entry.request_text)
            assert entry.response_text and devices[0].iccid in entry.response_text
    assert sent == {USERNAME_FIELD: "field-unit-7", COST_CENTER_FIELD: "CC-4410"}
    await assert_no_credentials(db, bulk_id, pod19)
    assert_logs_free_of_credentials(jasper_stack, pod19)
    mail = await mail_for(jasper_stack, bulk_id)
    assert "3 succeeded, 0 failed" in mail.subject


# ---- ChangeTypes 1, 4 and 5: our database only, as for any provider ----------------------------


def assert_never_called(stack: Stack, devices) -> None:
    assert [calls_for(stack, d.iccid) for d in devices] == [[] for _ in devices]


async def test_customer_assignment_of_control_center_devices(jasper_stack, db, pod19):
    customer = RevCustomer(id=f"R{unique_id()}", tenant_id=pod19.tenant_id, name="Rev customer")
    await add_rows(db, customer)
    devices = await add_sims(jasper_stack, db, pod19, ["ACTIVATED"] * 3)

    bulk_id, view, _ = await submit(
        jasper_stack,
        pod19,
        {
            "ChangeType": 1,
            "Devices": [d.iccid for d in devices],
            "RevService": {"RevCustomerId": customer.id, "CreateRevService": True},
        },
    )

    assert view["Counts"] == {"Success": 3}, view
    assert {d.rev_customer_id for d in await records(db, devices)} == {customer.id}
    async with db() as s:
        services = (
            await s.scalars(
                select(RevService).where(RevService.device_id.in_([d.id for d in devices]))
            )
        ).all()
    assert sorted(s.device_id for s in services) == sorted(d.id for d in devices)
    audit = await audit_trail(db, bulk_id)
    assert {tuple(steps(entries)) for entries in audit.values()} == {
        (("attempt", "Processing"), ("database:assign_customer", "Success"))
    }
    assert_never_called(jasper_stack, devices)
    mail = await mail_for(jasper_stack, bulk_id)
    assert "3 succeeded, 0 failed" in mail.subject


async def test_customer_rate_plan_change_of_control_center_devices(jasper_stack, db, pod19):
    plan = CustomerRatePlan(id=unique_id(), tenant_id=pod19.tenant_id, name="Silver")
    pool = CustomerRatePool(id=unique_id(), tenant_id=pod19.tenant_id, name="Shared pool")
    await add_rows(db, plan, pool)
    devices = await add_sims(jasper_stack, db, pod19, ["ACTIVATED"] * 3)

    bulk_id, view, _ = await submit(
        jasper_stack,
        pod19,
        {
            "ChangeType": 4,
            "Devices": [d.iccid for d in devices],
            "CustomerRatePlanUpdate": {
                "CustomerRatePlanId": plan.id,
                "CustomerRatePoolId": pool.id,
                "DataAllocationMB": 512,
            },
        },
    )

    assert view["Counts"] == {"Success": 3}, view
    assert {
        (d.customer_rate_plan_id, d.customer_rate_pool_id, d.data_allocation_mb)
        for d in await records(db, devices)
    } == {(plan.id, pool.id, 512)}
    audit = await audit_trail(db, bulk_id)
    assert {tuple(steps(entries)) for entries in audit.values()} == {
        (("attempt", "Processing"), ("database:change_customer_plan", "Success"))
    }
    assert_never_called(jasper_stack, devices)
    mail = await mail_for(jasper_stack, bulk_id)
    assert "3 succeeded, 0 failed" in mail.subject


async def test_archival_of_control_center_devices_refuses_recent_use(jasper_stack, db, pod19):
    idle = await add_sims(jasper_stack, db, pod19, ["DEACTIVATED"] * 2)
    (recent,) = await add_sims(jasper_stack, db, pod19, ["DEACTIVATED"])
    long_ago, lately = datetime.now(UTC) - timedelta(days=90), datetime.now(UTC) - timedelta(days=2)
    async with db() as s, s.begin():
        for device, used in [(idle[0], long_ago), (idle[1], long_ago), (recent, lately)]:
            await s.execute(update(Device).where(Device.id == device.id).values(last_usage_at=used))

    bulk_id, view, _ = await submit(
        jasper_stack, pod19, {"ChangeType": 5, "Devices": [d.iccid for d in [*idle, recent]]}
    )

    assert view["Counts"] == {"Success": 2, "ValidationFailed": 1}, view
    stored = await records(db, [*idle, recent])
    assert [(d.is_active, d.is_deleted) for d in stored] == [(False, True)] * 2 + [(True, False)]
    by_iccid = await changes(db, bulk_id)
    audit = await audit_trail(db, bulk_id)
    assert steps(audit[by_iccid[idle[0].iccid].id]) == [
        ("attempt", "Processing"),
        ("database:archive", "Success"),
    ]
    assert_never_called(jasper_stack, [*idle, recent])
    mail = await mail_for(jasper_stack, bulk_id)
    assert "2 succeeded, 1 failed" in mail.subject and "30 days" in mail.text


# ---- ChangeTypes 8 and 9: Control Center has no call for them ----------------------------------


def no_call_body(change_type: int, iccid: str) -> dict:
    if change_type == 8:
        pair = {"IdentifierType": "ICCID", "OldICCID": iccid, "NewICCID": "8914800000000000019"}
        return {"ChangeType": 8, "IdentifierChanges": [pair]}
    return {"ChangeType": 9, "Devices": [iccid]}


@pytest.mark.parametrize("change_type", [8, 9])
async def test_change_types_control_center_has_no_call_for_are_a_problem_and_store_nothing(
    change_type, jasper_stack, db, pod19
):
    (device,) = await add_sims(jasper_stack, db, pod19, ["DEACTIVATED"])
    body = no_call_body(change_type, device.iccid) | {"ServiceProviderId": POD19}
    async with db() as s:
        before = await s.scalar(select(func.count()).select_from(BulkChange))

    with httpx.Client(base_url=jasper_stack.config.intake_url, timeout=30) as api:
        answer = api.post(
            "/api/v1/bulk-changes",
            headers=headers(pod19, "op@e2e.example"),
            json={"OverrideValidation": False, **body},
        )

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["status"] == 422 and problem["title"] == "Change type not supported"
    assert f"ChangeType {change_type}" in problem["detail"]
    assert "Cisco Control Center" in problem["detail"]
    assert problem["supported"] == [1, 3, 4, 5, 6, 7]
    async with db() as s:
        assert await s.scalar(select(func.count()).select_from(BulkChange)) == before
    assert (await records(db, [device]))[0].status == "deactivated"
    assert_never_called(jasper_stack, [device])


# ---- a transition the status graph refuses: stopped at intake ----------------------------------


async def test_a_transition_the_graph_refuses_is_validation_failed_and_never_sent(
    jasper_stack, db, pod19
):
    (refused,) = await add_sims(jasper_stack, db, pod19, ["ACTIVATED"])
    fine = await add_sims(jasper_stack, db, pod19, ["INVENTORY"] * 2)

    bulk_id, view, _ = await submit(
        jasper_stack,
        pod19,
        {
            "ChangeType": 3,
            "Devices": [d.iccid for d in [refused, *fine]],
            "StatusUpdate": {"TargetStatus": "ACTIVATION_READY"},
        },
    )

    assert view["Counts"] == {"Success": 2, "ValidationFailed": 1}, view
    by_iccid = await changes(db, bulk_id)
    stopped = by_iccid[refused.iccid]
    assert stopped.status == "ValidationFailed"
    assert stopped.validation_error == (
        "a ACTIVATED SIM may not go back to ACTIVATION_READY (pre-activation is one way)"
    )
    assert calls_for(jasper_stack, refused.iccid) == []
    assert at_jasper(jasper_stack, refused.iccid)["status"] == "ACTIVATED"
    assert [at_jasper(jasper_stack, d.iccid)["status"] for d in fine] == ["ACTIVATION_READY"] * 2
    stored = await records(db, [refused, *fine])
    assert [d.status for d in stored] == ["active", "preactive", "preactive"]
    audit = await audit_trail(db, bulk_id)
    assert stopped.id not in audit or not steps(audit[stopped.id])  # never reached the worker
    mail = await mail_for(jasper_stack, bulk_id)
    assert "2 succeeded, 1 failed" in mail.subject and "pre-activation is one way" in mail.text


# ---- 40000029 and 5xx: every device ends Success, none edited twice ----------------------------

FAULTS = {
    # 2 calls a second and one at a time, against a budget of 1,000 a second: bursts of
    # 40000029, retried by the adapter, then by the worker.
    "40000029-bursts": {"calls_per_second": 2, "max_concurrent": 1},
    # 15 % of calls answered 500 30000001 (outcome unknown) or 502/503 by the gateway: a
    # worker that reads back before sending again ends them all Success within its 8 attempts
    # (a device fails only if all 8 do: about 2e-5).
    "server-errors": {
        "calls_per_second": 1000,
        "max_concurrent": 1,
        "server_error_rate": 0.1,
        "error_rate": 0.05,
    },
}


# Enough calls that a 15 % fault cannot miss them all (0.85 ** 40: about 1e-3).
DEVICES = 20


@pytest.mark.parametrize("faults", list(FAULTS.values()), ids=list(FAULTS))
async def test_throttled_and_failing_calls_end_successful_with_no_device_edited_twice(
    faults, jasper_stack, db, tenant_id
):
    fleet = create_jasper_fleet(jasper_stack, tenant_id, name="CC faults", faults=faults)
    devices = await add_sims(jasper_stack, db, fleet, ["ACTIVATED"] * DEVICES)

    bulk_id, view, _ = await submit(
        jasper_stack,
        fleet,
        {
            "ChangeType": 3,
            "Devices": [d.iccid for d in devices],
            "StatusUpdate": {"TargetStatus": "Deactive"},
        },
        timeout_s=240,
    )

    by_iccid = await changes(db, bulk_id)
    assert view["Counts"] == {"Success": DEVICES}, {
        i: (dc.status, dc.error_code, dc.error_message) for i, dc in by_iccid.items()
    }
    assert {d.status for d in await records(db, devices)} == {"deactivated"}
    assert {at_jasper(jasper_stack, d.iccid)["status"] for d in devices} == {"DEACTIVATED"}
    assert edits_per_device(jasper_stack, devices) == {d.iccid: 1 for d in devices}
    assert [len(accepted_puts(calls_for(jasper_stack, d.iccid))) for d in devices] == [1] * DEVICES
    struck = [
        c
        for d in devices
        for c in calls_for(jasper_stack, d.iccid)
        if c["errorCode"] in ("40000029", "30000001") or c["status"] in (502, 503)
    ]
    assert struck, "the fault never struck"
    await assert_no_credentials(db, bulk_id, fleet)
    mail = await mail_for(jasper_stack, bulk_id)
    assert f"{DEVICES} succeeded, 0 failed" in mail.subject


# ---- a revoked API key: the provider's devices fail, no login storm ---------------------------


async def test_a_revoked_key_fails_the_providers_devices_after_a_bounded_number_of_calls(
    jasper_stack, db, tenant_id
):
    fleet = create_jasper_fleet(jasper_stack, tenant_id, name="CC revoked")
    devices = await add_sims(jasper_stack, db, fleet, ["ACTIVATED"] * 20)
    with jasper(jasper_stack) as sim:
        sim.post(f"/_sim/users/{fleet.user}/revoke").raise_for_status()

    bulk_id, view, _ = await submit(
        jasper_stack,
        fleet,
        {
            "ChangeType": 3,
            "Devices": [d.iccid for d in devices],
            "StatusUpdate": {"TargetStatus": "Deactive"},
        },
    )

    assert view["Counts"] == {"Failed": 20}, view
    by_iccid = await changes(db, bulk_id)
    assert {dc.error_code for dc in by_iccid.values()} == {"10000001"}
    assert all("refused" in dc.error_message for dc in by_iccid.values()), {
        dc.error_message for dc in by_iccid.values()
    }
    refused_calls = calls_by(jasper_stack, fleet.user)
    assert 1 <= len(refused_calls) <= 2, refused_calls
    assert {c["status"] for c in refused_calls} == {401}
    assert {d.status for d in await records(db, devices)} == {"active"}
    assert {at_jasper(jasper_stack, d.iccid)["status"] for d in devices} == {"ACTIVATED"}
    await assert_no_credentials(db, bulk_id, fleet)
    assert_logs_free_of_credentials(jasper_stack, fleet)
    mail = await mail_for(jasper_stack, bulk_id)
    assert "0 succeeded, 20 failed" in mail.subject and "refused" in mail.text
