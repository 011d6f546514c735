"""Every change type's OpenAPI example succeeds against a stack seeded as `make run` seeds it
(`seed-demo --examples`): each example names devices of its own, seeded in the state it needs,
in our database and at the carrier. An example that is broken, or whose devices are not
seeded, leaves its devices `ValidationFailed` or `Failed` and fails this test."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from devicebulk_admin.demo import ACCOUNT_NAME
from devicebulk_admin.demo_catalogue import EXAMPLE_DEVICES
from devicebulk_admin.demo_jasper import JASPER_EXAMPLE_DEVICES
from devicebulk_common.contracts import ChangeType, DeviceChangeStatus
from devicebulk_devstack.processes import Stack
from devicebulk_devstack.testdata import unique_id
from devicebulk_intake.bulk_changes.examples import SUBMIT_EXAMPLES
from tests.e2e.change_support import Fleet, changes, headers
from tests.e2e.conftest import admin

pytestmark = pytest.mark.e2e

# The portal's status update as it sends it today carries no ZIP code: the example documents
# that its device is recorded ValidationFailed with that reason, so that is what it must do.
DOCUMENTED_REFUSALS = {
    "portal-status-update": "activation needs a ZIP code (ThingSpaceStatusUpdate.ZipCode)",
}


def named_iccids(body: dict[str, Any]) -> list[str]:
    if body.get("Devices"):
        return list(body["Devices"])
    return [pair["OldICCID"] for pair in body["IdentifierChanges"]]


def post_all(stack: Stack, fleet: Fleet) -> dict[str, str]:
    """Every example submitted as it is documented; the bulk change id by example."""
    submitted = {}
    with httpx.Client(base_url=stack.config.intake_url, timeout=30) as api:
        for name, example in SUBMIT_EXAMPLES.items():
            operator = f"op-{uuid.uuid4().hex[:8]}@e2e.example"
            answer = api.post(
                "/api/v1/bulk-changes", headers=headers(fleet, operator), json=example["value"]
            )
            assert answer.status_code == 202, (name, answer.text)
            submitted[name] = answer.json()["BulkChangeId"]
    return submitted


async def wait_all(
    stack: Stack, fleet: Fleet, submitted: dict[str, str], timeout_s: float = 120
) -> dict[str, dict[str, Any]]:
    views: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=stack.config.intake_url, timeout=30) as api:
        while len(views) < len(submitted):
            for name, bulk_id in submitted.items():
                if name in views:
                    continue
                view = api.get(
                    f"/api/v1/bulk-changes/{bulk_id}", headers=headers(fleet, "op@e2e.example")
                ).json()
                if view["Status"] in ("PROCESSED", "ERROR"):
                    views[name] = view
            if time.monotonic() > deadline:
                pending = sorted(set(submitted) - set(views))
                raise AssertionError(f"not processed in {timeout_s} s: {pending}")
            await asyncio.sleep(0.3)
    return views


async def test_every_openapi_example_succeeds_after_the_demo_seed(stack, e2e_sessionmaker):
    provider_id = SUBMIT_EXAMPLES["activate"]["value"]["ServiceProviderId"]
    fleet = Fleet(unique_id(), provider_id, ACCOUNT_NAME)
    seed = ("--tenant", str(fleet.tenant_id), "--provider", str(provider_id))
    stack.start_jasper_sim()
    admin(
        stack, "seed-demo", *seed, "--devices", "0", "--sim-url", stack.config.sim_url,
        "--examples", "--jasper-sim-url", stack.config.jasper_sim_url,
    )  # fmt: skip
    admin(
        stack,
        "register-callback",
        "--provider",
        str(provider_id),
        "--url-base",
        stack.config.callbacks_url,
    )
    stack.start_services()

    # Every change type has an example, and every example has devices of its own.
    bodies = {name: example["value"] for name, example in SUBMIT_EXAMPLES.items()}
    assert {b["ChangeType"] for b in bodies.values()} == {t.value for t in ChangeType}
    named = [iccid for body in bodies.values() for iccid in named_iccids(body)]
    assert len(named) == len(set(named)), "two examples share a device"
    assert set(named) == {d.iccid for d in [*EXAMPLE_DEVICES, *JASPER_EXAMPLE_DEVICES]}
    assert {n for n in bodies if n.startswith("jasper-")}, "no Control Center example"

    submitted = post_all(stack, fleet)
    views = await wait_all(stack, fleet, submitted)

    failures = {}
    for name, bulk_id in submitted.items():
        stored = await changes(e2e_sessionmaker, bulk_id)
        outcome = {iccid: dc.status for iccid, dc in stored.items()}
        if name in DOCUMENTED_REFUSALS:
            wanted = {
                i: DeviceChangeStatus.VALIDATION_FAILED.value for i in named_iccids(bodies[name])
            }
            reasons = {dc.validation_error for dc in stored.values()}
            ok = outcome == wanted and reasons == {DOCUMENTED_REFUSALS[name]}
        else:
            wanted = {i: DeviceChangeStatus.SUCCESS.value for i in named_iccids(bodies[name])}
            ok = outcome == wanted and views[name]["Status"] == "PROCESSED"
        if not ok:
            failures[name] = {
                iccid: (dc.status, dc.validation_error, dc.error_code, dc.error_message)
                for iccid, dc in stored.items()
            } | {"view": views[name]}
    assert not failures, failures
