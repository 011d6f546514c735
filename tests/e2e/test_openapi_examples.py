"""The OpenAPI examples that name the catalogue (change types 1, 4, 7 and 8 with a customer
rate plan; 6 on the same device) succeed against a stack seeded as `make run` seeds it
(`seed-demo --examples`)."""

from __future__ import annotations

import pytest

from devicebulk_admin.demo import ACCOUNT_NAME
from devicebulk_admin.demo_catalogue import EXAMPLE_DEVICE
from devicebulk_common.contracts import DeviceChangeStatus
from devicebulk_devstack.testdata import unique_id
from devicebulk_intake.bulk_changes.examples import SUBMIT_EXAMPLES
from tests.e2e.change_support import Fleet, changes, submit
from tests.e2e.conftest import admin

pytestmark = pytest.mark.e2e

# In this order: each leaves the device as the next one needs it.
EXAMPLES = [
    "assign-customer",
    "customer-rate-plan",
    "carrier-rate-plan",
    "edit-username",
    "change-imei",
]


async def test_each_catalogue_examples_devices_succeed_after_the_demo_seed(stack, e2e_sessionmaker):
    provider_id = SUBMIT_EXAMPLES["assign-customer"]["value"]["ServiceProviderId"]
    fleet = Fleet(unique_id(), provider_id, ACCOUNT_NAME)
    seed = ("--tenant", str(fleet.tenant_id), "--provider", str(provider_id))
    admin(
        stack, "seed-demo", *seed, "--devices", "0", "--sim-url", stack.config.sim_url, "--examples"
    )
    admin(
        stack,
        "register-callback",
        "--provider",
        str(provider_id),
        "--url-base",
        stack.config.callbacks_url,
    )
    stack.start_services()

    for name in EXAMPLES:
        body = SUBMIT_EXAMPLES[name]["value"]
        bulk_id, view, _ = await submit(stack, fleet, body)
        outcome = {
            iccid: dc.status for iccid, dc in (await changes(e2e_sessionmaker, bulk_id)).items()
        }
        assert outcome == {EXAMPLE_DEVICE["iccid"]: DeviceChangeStatus.SUCCESS.value}, (
            name,
            view,
            {
                i: (dc.validation_error, dc.error_code)
                for i, dc in (await changes(e2e_sessionmaker, bulk_id)).items()
            },
        )
        assert view["Status"] == "PROCESSED", (name, view)
