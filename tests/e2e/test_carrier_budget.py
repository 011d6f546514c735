"""The carrier's budget with real processes: two worker processes share one token, one session
and one rate limit of one simulator account; a run under 5xx, timeouts and tokens expiring
early still ends with every device activated exactly once."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest
from sqlalchemy import select

from devicebulk_common.models import Device
from devicebulk_devstack.processes import Stack
from devicebulk_devstack.testdata import make_iccid, make_imei, unique_id
from tests.e2e.conftest import admin, sim, write_devices_csv
from tests.e2e.test_activation import wait_processed

pytestmark = pytest.mark.e2e

ACTIVATE = "POST /api/m2m/v1/devices/actions/activate"
TOKEN_PATH = "/api/ts/v1/oauth2/token"
LOGIN_PATH = "/api/m2m/v1/session/login"


def provision(stack: Stack, tmp_path, n: int, *, rate_limit: int | None = None) -> dict:
    """A simulator account with ``n`` preactive devices, known to devicebulk as a provider with
    its callback registered; returns what the test needs to submit."""
    account = f"BUDGET-{unique_id()}"
    creds = {
        "THINGSPACE_CLIENT_KEY": f"key-{account}",
        "THINGSPACE_CLIENT_SECRET": "budget-secret",
        "THINGSPACE_USERNAME": f"api-{account}",
        "THINGSPACE_PASSWORD": "budget-password",
    }
    tenant_id, provider_id = unique_id(), unique_id()
    base = unique_id() * 1000
    iccids = [make_iccid(base + i) for i in range(n)]
    imeis = [make_imei((base + i) % 1_000_000) for i in range(n)]
    with sim(stack) as carrier:
        carrier.post(
            "/_sim/accounts",
            json={
                "accountName": account,
                "client_key": creds["THINGSPACE_CLIENT_KEY"],
                "client_secret": creds["THINGSPACE_CLIENT_SECRET"],
                "username": creds["THINGSPACE_USERNAME"],
                "password": creds["THINGSPACE_PASSWORD"],
            },
        ).raise_for_status()
        carrier.post(
            "/_sim/devices",
            json={
                "accountName": account,
                "devices": [
                    {"iccid": i, "imei": m, "servicePlan": "M2M_4G", "state": "preactive"}
                    for i, m in zip(iccids, imeis, strict=True)
                ],
            },
        ).raise_for_status()
    admin(stack, "create-tenant", "--id", str(tenant_id), "--name", "Budget tenant")
    limit = ["--rate-limit-per-minute", str(rate_limit)] if rate_limit else []
    admin(
        stack,
        "create-provider",
        "--id",
        str(provider_id),
        "--name",
        "Budget ThingSpace",
        "--account-name",
        account,
        "--base-url",
        f"{stack.config.sim_url}/api",
        *limit,
        env=creds,
    )
    # The plan the activation names, in the provider's catalogue.
    admin(
        stack,
        "create-carrier-rate-plan",
        "--provider",
        str(provider_id),
        "--code",
        "M2M_4G",
        "--name",
        "4G",
    )
    csv_path = write_devices_csv(
        tmp_path / f"{account}.csv",
        [
            {"iccid": i, "imei": m, "status": "preactive", "carrier_rate_plan": "M2M_4G"}
            for i, m in zip(iccids, imeis, strict=True)
        ],
    )
    admin(
        stack,
        "import-devices",
        "--tenant",
        str(tenant_id),
        "--provider",
        str(provider_id),
        str(csv_path),
    )
    admin(
        stack,
        "register-callback",
        "--provider",
        str(provider_id),
        "--url-base",
        stack.config.callbacks_url,
    )
    return {"account": account, "tenant": tenant_id, "provider": provider_id, "iccids": iccids}


def activate_all(stack: Stack, world: dict, timeout_s: float = 180) -> dict:
    headers = {"X-Tenant-Id": str(world["tenant"]), "X-User-Email": "ops@budget.example"}
    with httpx.Client(base_url=stack.config.intake_url, timeout=30) as api:
        answer = api.post(
            "/api/v1/bulk-changes",
            headers=headers,
            json={
                "Devices": world["iccids"],
                "ServiceProviderId": world["provider"],
                "ChangeType": 3,
                "StatusUpdate": {
                    "TargetStatus": "Active",
                    "ThingSpaceStatusUpdate": {"ServicePlan": "M2M_4G", "ZipCode": "92127"},
                },
            },
        )
        assert answer.status_code == 202, answer.text
        return wait_processed(api, answer.json()["BulkChangeId"], headers, timeout_s)


def calls(stack: Stack, account: str) -> list[dict]:
    with sim(stack) as carrier:
        items = carrier.get("/_sim/calls").json()["calls"]
    return [c for c in items if c["account"] == account]


@pytest.fixture
def two_workers(stack: Stack) -> Stack:
    stack.config.workers = 2
    # Small gathered requests, so that there are many of them for the budget to pace.
    stack.config.extra_env.update(WORKER_BATCH_MAX="5", WORKER_BATCH_WAIT_S="0.1")
    return stack


async def test_two_worker_processes_share_one_token_one_session_and_one_budget(
    two_workers, tmp_path, e2e_sessionmaker
):
    stack = two_workers
    world = provision(stack, tmp_path, 100, rate_limit=120)
    with sim(stack) as carrier:
        carrier.put(
            f"/_sim/accounts/{world['account']}/faults", json={"rate_limit_per_minute": 120}
        ).raise_for_status()
    admin_calls = calls(stack, world["account"])  # the admin's own login (register-callback)
    stack.start_services()

    view = activate_all(stack, world)

    assert view["Counts"] == {"Success": 100}
    made = calls(stack, world["account"])[len(admin_calls) :]
    actions = [c for c in made if c["endpoint"] == ACTIVATE]
    assert 20 <= len(actions) < 100  # gathered: about 5 devices a request, not one
    assert sum(c["devices"] for c in actions if c["status"] == 200) == 100
    assert not [c for c in made if c["status"] == 429]
    # Both processes did carrier work, with ONE access token and ONE session between them.
    logs = [(stack.config.var_dir / "logs" / f"bulk-worker-{i}.log").read_text() for i in (0, 1)]
    assert all("carrier accepted" in log for log in logs)
    assert len([c for c in made if c["path"] == TOKEN_PATH]) == 1
    assert len([c for c in made if c["path"] == LOGIN_PATH]) == 1
    assert len({c["session_token"] for c in actions}) == 1
    async with e2e_sessionmaker() as s:
        statuses = Counter(
            (
                await s.scalars(
                    select(Device.status).where(Device.service_provider_id == world["provider"])
                )
            ).all()
        )
    assert statuses == {"active": 100}


def expire_tokens_every(stack: Stack, account: str, interval_s: float, stop: threading.Event):
    with sim(stack) as carrier:
        while not stop.wait(interval_s):
            carrier.post(f"/_sim/accounts/{account}/expire")


async def test_a_run_under_5xx_timeouts_and_early_expiry_activates_every_device_once(
    two_workers, tmp_path
):
    stack = two_workers
    stack.config.extra_env.update(
        WORKER_MAX_ATTEMPTS="10", WORKER_RETRY_BASE_S="0.2", WORKER_RETRY_MAX_S="2"
    )
    # Gathered, 60 devices are a handful of carrier calls: a 10 % draw could miss them all, so
    # the stack's simulator draws from a fixed seed whose first draw is under 0.1.
    world = provision(stack, tmp_path, 60)
    with sim(stack) as carrier:
        carrier.put(
            f"/_sim/accounts/{world['account']}/faults",
            json={"error_rate": 0.1, "timeout_rate": 0.1, "timeout_s": 1.0},
        ).raise_for_status()
    stack.start_services()
    stop = threading.Event()
    expiring = threading.Thread(
        target=expire_tokens_every, args=(stack, world["account"], 2.0, stop), daemon=True
    )
    expiring.start()
    try:
        view = activate_all(stack, world)
    finally:
        stop.set()
        expiring.join()

    assert view["Counts"] == {"Success": 60}
    made = calls(stack, world["account"])
    faults = Counter(c["fault"] for c in made if c["fault"])
    assert faults, "the run met no fault at all"
    actions = [c for c in made if c["endpoint"] == ACTIVATE]
    # Every device was in exactly one accepted activation: nothing was sent again after success.
    assert sum(c["devices"] for c in actions if c["status"] == 200) == 60
    with sim(stack) as carrier:
        callbacks = carrier.get("/_sim/callbacks").json()["callbacks"]
    outcomes = {
        (cb["requestId"], ids["id"], cb["status"])
        for cb in callbacks
        if cb["account"] == world["account"]
        for ids in cb["deviceIds"]
        if ids["kind"].lower() == "iccid"
    }
    per_device = Counter((iccid, status) for _, iccid, status in outcomes)
    assert per_device == Counter({(iccid, "Success"): 1 for iccid in world["iccids"]})
