"""Carrier requests counted through the simulator's call log when things go wrong, with the real
processes: a change in two carrier steps whose callbacks trickle in, and a worker killed
(SIGKILL) while its request is in flight. Neither may act on a device twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from devicebulk_common.models import CarrierCallback
from devicebulk_devstack.benchfaults import restart_worker
from devicebulk_devstack.processes import Stack
from tests.e2e.change_support import Fleet, Spec, add_devices, create_fleet, headers, submit
from tests.e2e.conftest import sim

pytestmark = pytest.mark.e2e

FIELDS = "PUT /api/m2m/v1/devices/actions/customFields"
COST = "PUT /api/m2m/v1/devices/costCenter"
ACTIVATE = "POST /api/m2m/v1/devices/actions/activate"
LIST = "POST /api/m2m/v1/devices/actions/list"


def _faults(stack: Stack, fleet: Fleet, **knobs: object) -> None:
    with sim(stack) as carrier:
        carrier.put(f"/_sim/accounts/{fleet.account}/faults", json=knobs).raise_for_status()


def _calls(stack: Stack, fleet: Fleet) -> list[dict]:
    with sim(stack) as carrier:
        calls = carrier.get("/_sim/calls").json()["calls"]
    return [c for c in calls if c["account"] == fleet.account]


def _most_actions(stack: Stack, iccids: list[str]) -> Counter[str]:
    """How many times each action was carried out on the device it was carried out most on."""
    with sim(stack) as carrier:
        counted = carrier.get("/_sim/actions").json()["actions"]
    most: Counter[str] = Counter()
    wanted = set(iccids)
    for key, n in counted.items():
        action, iccid = key.split(":", 1)
        if iccid in wanted:
            most[action] = max(most[action], n)
    return most


async def test_100_cost_center_changes_whose_callbacks_trickle_in_cost_one_request_a_step(
    stack: Stack, e2e_sessionmaker
):
    stack.start_services()
    fleet = create_fleet(stack)
    devices = await add_devices(stack, e2e_sessionmaker, fleet, [Spec() for _ in range(100)])
    # Each request's callbacks come one by one over 10 s (ThingSpace's trickle in over
    # minutes): the second step must not be sent as many small requests as they come.
    _faults(stack, fleet, callback_spread_s=10)

    _, view, _ = await submit(
        stack,
        fleet,
        {
            "ChangeType": 6,
            "Devices": [d.iccid for d in devices],
            "Username": {"NewUsername": "PUMP_7", "CostCenter": "DEPT_OPS_7"},
        },
        timeout_s=180,
    )

    assert view["Counts"] == {"Success": 100}
    sent = Counter(c["endpoint"] for c in _calls(stack, fleet))
    assert sent[FIELDS] <= 2, sent
    assert sent[COST] <= 2, sent
    with sim(stack) as carrier:
        last = carrier.get(f"/_sim/devices/{devices[-1].iccid}").json()
    assert last["costCenterCode"] == "DEPT_OPS_7"
    assert max(_most_actions(stack, [d.iccid for d in devices]).values()) == 1


@pytest.fixture
def one_worker_stack(stack: Stack) -> Stack:
    """One worker process (so killing it stops every attempt in flight), a short lease (the
    killed worker's attempts are resumed after it), and a callback watchdog that never comes
    (the callbacks themselves must settle every device)."""
    stack.config.workers = 1
    stack.config.extra_env |= {"WORKER_LEASE_S": "8", "WORKER_CALLBACK_TIMEOUT_S": "3600"}
    return stack


async def test_a_worker_killed_with_1000_devices_in_flight_costs_a_handful_of_requests(
    one_worker_stack: Stack, e2e_sessionmaker
):
    stack = one_worker_stack
    stack.start_services()
    fleet = create_fleet(stack)
    devices = await add_devices(
        stack, e2e_sessionmaker, fleet, [Spec(status="preactive", at_carrier="preactive")] * 1000
    )
    iccids = [d.iccid for d in devices]
    # The carrier carries the activation out at once, answers after 6 s and calls back after
    # 20 s: the worker is killed while the request is in flight, its answer never read.
    _faults(stack, fleet, latency_ms=6_000, latency_after_action=True, callback_delay_s=20)
    operator = "killed@e2e.example"
    with httpx.Client(base_url=stack.config.intake_url, timeout=60) as api:
        answer = api.post(
            "/api/v1/bulk-changes",
            headers=headers(fleet, operator),
            json={
                "ServiceProviderId": fleet.provider_id,
                "ChangeType": 3,
                "Devices": iccids,
                "StatusUpdate": {
                    "TargetStatus": "Active",
                    "ThingSpaceStatusUpdate": {"ServicePlan": "M2M_4G", "ZipCode": "92127"},
                },
            },
        )
        assert answer.status_code == 202, answer.text
        bulk_id = answer.json()["BulkChangeId"]
        for _ in range(600):
            if _activated(stack, iccids) == 1000:
                break
            await asyncio.sleep(0.1)
        assert _activated(stack, iccids) == 1000
        killed_at = datetime.now(UTC)
        restart_worker(stack)
        _faults(stack, fleet, callback_delay_s=20)
        for _ in range(450):
            view = api.get(
                f"/api/v1/bulk-changes/{bulk_id}", headers=headers(fleet, operator)
            ).json()
            if view["Status"] in ("PROCESSED", "ERROR"):
                break
            await asyncio.sleep(0.2)

    assert view["Status"] == "PROCESSED" and view["Counts"] == {"Success": 1000}, view
    after = [
        c
        for c in _calls(stack, fleet)
        if datetime.fromisoformat(c["timestamp"]) - timedelta(milliseconds=c["duration_ms"])
        >= killed_at
        and c["endpoint"] in (ACTIVATE, LIST)
    ]
    # One device list (a page: the account holds 1,000 devices) for all 1,000, not one a device
    # (none at all if the callbacks came first on a slow machine), and no activation sent again.
    assert Counter(c["endpoint"] for c in after) == {LIST: len(after)}
    assert len(after) <= 3, after
    assert _most_actions(stack, iccids) == {"activate": 1}
    # The request id was never recorded (the answer died with the worker): each callback found
    # its device change by ICCID and open attempt, also those that came after the first ones
    # had recorded the request id on their own device changes.
    async with e2e_sessionmaker() as session:
        outcomes = Counter((await session.scalars(select(CarrierCallback.outcome))).all())
    assert outcomes == {
        "activate succeeded (matched by ICCID and open attempt (request id not recorded))": 1000
    }, outcomes


def _activated(stack: Stack, iccids: list[str]) -> int:
    with sim(stack) as carrier:
        counted = carrier.get("/_sim/actions", params={"action": "activate"}).json()["actions"]
    return sum(1 for i in iccids if f"activate:{i}" in counted)
