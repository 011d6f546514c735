"""Control Center operations through the carrier-neutral seam: the worker runs set_status,
change_plan and edit_username for a Jasper provider against the real jasper-sim over HTTP and
the real database; each device is edited with one synchronous PUT, confirmed by reading it back,
and recorded through its operation spec."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from change_helpers import add_changes, changes_of, devices_by_id, run, steps_of
from sqlalchemy import text

from devicebulk_common.carriers.jasper.factory import encrypt_credentials
from devicebulk_common.contracts import ChangeType
from devicebulk_common.models import ServiceProvider
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.handler import DeviceChangeHandler
from devicebulk_worker.retry import RetryPolicy
from devicebulk_worker.watchdog import CallbackWatchdog
from jasper_sim import SimConfig, create_app
from jasper_sim.serving import serve

PLANS = ["M2M 1GB", "M2M 5GB"]
API_KEY = "9b8d6f0e-secret-api-key"


@pytest.fixture(scope="session")
async def jasper_url() -> AsyncIterator[str]:
    async with serve(create_app(SimConfig(random_seed=7))) as url:
        yield url


@dataclass
class ControlCenter:
    url: str
    http: httpx.AsyncClient
    account: str
    user: str

    async def admin(self, method: str, path: str, **kw) -> httpx.Response:
        response = await self.http.request(method, f"{self.url}/_sim{path}", **kw)
        assert response.status_code < 300, response.text
        return response

    async def device(self, iccid: str) -> dict:
        return (await self.admin("GET", f"/devices/{iccid}")).json()

    async def calls(self, iccid: str) -> list[dict]:
        """Every call naming the device in its path (a refused call may name no account)."""
        every = (await self.admin("GET", "/calls")).json()["calls"]
        return [c for c in every if iccid in c["path"]]


@pytest.fixture
async def cc(jasper_url) -> AsyncIterator[ControlCenter]:
    account = str(100_000_000 + uuid.uuid4().int % 899_999_999)
    user = f"api-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=10) as http:
        center = ControlCenter(jasper_url, http, account, user)
        await center.admin(
            "POST",
            "/accounts",
            json={
                "accountId": account,
                "ratePlans": PLANS,
                "communicationPlans": ["CP Basic"],
                "customers": ["Acme"],
                "users": [{"userName": user, "apiKey": API_KEY}],
            },
        )
        yield center


@dataclass
class JasperWorld:
    tenant: object
    provider: ServiceProvider
    devices: list


@pytest.fixture
async def world(factory, cc, sessionmaker, credentials_key) -> JasperWorld:
    tenant = await factory.tenant()
    provider = ServiceProvider(
        id=uuid.uuid4().int % 1_000_000_000,
        name="POD19",
        integration="jasper",
        account_name=cc.account,
        base_url=f"{cc.url}/rws/api/v1",
        write_enabled=True,
        credentials_encrypted=encrypt_credentials(
            credentials_key, username=cc.user, api_key=API_KEY
        ),
    )
    async with sessionmaker() as s, s.begin():
        s.add(provider)
    devices = await factory.devices(tenant, provider, 3, carrier_rate_plan="M2M 1GB")
    await cc.admin(
        "POST",
        "/devices",
        json={
            "accountId": cc.account,
            "devices": [
                {"iccid": d.iccid, "status": "ACTIVATED", "ratePlan": "M2M 1GB"} for d in devices
            ],
        },
    )
    return JasperWorld(tenant, provider, devices)


@pytest.fixture
async def handler(sessionmaker, credentials_key) -> AsyncIterator[DeviceChangeHandler]:
    adapters = AdapterPool(credentials_key=credentials_key, timeout_s=5.0)
    yield DeviceChangeHandler(sessionmaker, adapters)
    await adapters.aclose()


def _puts(calls: list[dict]) -> list[dict]:
    return [c for c in calls if c.get("method") == "PUT"]


async def test_each_operation_is_one_put_a_device_confirmed_and_recorded(
    handler, world, cc, sessionmaker
):
    status_dev, plan_dev, user_dev = world.devices
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.STATUS_UPDATE,
        [
            (status_dev, {"op": "set_status", "status": "DEACTIVATED"}),
            (plan_dev, {"op": "change_plan", "service_plan": "M2M 5GB"}),
            (user_dev, {"op": "edit_username", "username": "alice", "cost_center": "CC-7"}),
        ],
    )
    await run(handler, messages)

    changes = await changes_of(sessionmaker, messages)
    assert [c.status for c in changes] == ["Success"] * 3, [
        (c.status, c.error_code, c.error_message) for c in changes
    ]
    records = await devices_by_id(sessionmaker, [d.id for d in world.devices])
    assert records[status_dev.id].status == "deactivated"
    assert records[plan_dev.id].carrier_rate_plan == "M2M 5GB"
    assert (records[user_dev.id].username, records[user_dev.id].cost_center) == ("alice", "CC-7")
    assert (await cc.device(status_dev.iccid))["status"] == "DEACTIVATED"
    assert (await cc.device(plan_dev.iccid))["ratePlan"] == "M2M 5GB"

    # One PUT a device, EditUsername's carrying both custom fields; none edited twice.
    assert [len(_puts(await cc.calls(d.iccid))) for d in world.devices] == [1, 1, 1]
    edits = (await cc.admin("GET", "/edits")).json()["edits"]
    assert [edits[d.iccid] for d in world.devices] == [1, 1, 1]
    at_carrier = await cc.device(user_dev.iccid)
    assert (at_carrier["accountCustom1"], at_carrier["accountCustom2"]) == ("alice", "CC-7")
    assert changes[2].result == {"username": "alice", "cost_center": "CC-7"}
    # The audit trail holds the carrier's request and response, never the credentials.
    steps = await steps_of(sessionmaker, changes[0].id)
    [put] = [s for s in steps if s.http_method == "PUT"]
    assert put.step == "carrier:set_status" and "DEACTIVATED" in put.request_text
    assert put.http_status == 200 and put.response_text
    for change in changes:
        for step in await steps_of(sessionmaker, change.id):
            text = f"{step.request_text} {step.response_text} {step.message}"
            assert API_KEY not in text and "Basic " not in text


async def test_the_providers_options_choose_the_custom_fields(handler, world, cc, sessionmaker):
    """A Control Center provider's stored options (here its custom fields) are the adapter's."""
    async with sessionmaker() as s, s.begin():
        await s.execute(
            text("UPDATE service_provider SET carrier_options = :o WHERE id = :id"),
            {
                "o": '{"username_field": "accountCustom5", "cost_center_field": "accountCustom9"}',
                "id": world.provider.id,
            },
        )
    device = world.devices[0]
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.EDIT_USERNAME,
        [(device, {"op": "edit_username", "username": "bob", "cost_center": "CC-1"})],
    )
    await run(handler, messages)

    (change,) = await changes_of(sessionmaker, messages)
    assert change.status == "Success", (change.error_code, change.error_message)
    at_carrier = await cc.device(device.iccid)
    assert (at_carrier.get("accountCustom5"), at_carrier.get("accountCustom9")) == ("bob", "CC-1")
    assert not at_carrier.get("accountCustom1")
    assert len(_puts(await cc.calls(device.iccid))) == 1


async def test_stored_options_the_integration_refuses_fail_the_changes_with_the_reason(
    handler, world, cc, sessionmaker
):
    """A hand-edited row the admin CLI would have refused: no call, a named reason."""
    async with sessionmaker() as s, s.begin():
        await s.execute(
            text("UPDATE service_provider SET carrier_options = :o WHERE id = :id"),
            {"o": '{"page_size": 500}', "id": world.provider.id},
        )
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.STATUS_UPDATE,
        [(world.devices[0], {"op": "set_status", "status": "DEACTIVATED"})],
    )
    await run(handler, messages)

    (change,) = await changes_of(sessionmaker, messages)
    assert (change.status, change.error_code) == ("Failed", "Provider.InvalidOptions")
    assert "page_size must be 1..50" in change.error_message
    assert await cc.calls(world.devices[0].iccid) == []


async def test_a_revoked_key_fails_the_providers_devices_with_no_login_storm(
    handler, world, cc, sessionmaker
):
    await cc.admin("POST", f"/users/{cc.user}/revoke")
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.STATUS_UPDATE,
        [(d, {"op": "set_status", "status": "DEACTIVATED"}) for d in world.devices],
    )
    await run(handler, messages)

    changes = await changes_of(sessionmaker, messages)
    assert [c.status for c in changes] == ["Failed"] * 3
    assert {c.error_code for c in changes} == {"10000001"}
    assert all("refused" in c.error_message for c in changes)
    calls = [c for d in world.devices for c in await cc.calls(d.iccid)]
    assert len(calls) == 1  # the first refusal is remembered: no call after it


@pytest.mark.parametrize(
    "faults",
    [{"calls_per_second": 1}, {"server_error_rate": 0.3}],
    ids=["40000029-bursts", "server-errors"],
)
async def test_throttled_and_failing_calls_end_successful_without_a_device_edited_twice(
    faults, handler, world, cc, sessionmaker
):
    # Attempts enough that a 50 % fault rate (the PUT and the read-back each) ends in success.
    handler = DeviceChangeHandler(sessionmaker, handler._adapters, RetryPolicy(max_attempts=12))
    await cc.admin("PUT", f"/accounts/{cc.account}/faults", json=faults)
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.STATUS_UPDATE,
        [(d, {"op": "set_status", "status": "DEACTIVATED"}) for d in world.devices],
    )
    await run(handler, messages)
    for _ in range(30):  # what the delay queue would deliver again (no relay runs here)
        changes = await changes_of(sessionmaker, messages)
        again = [m for m, c in zip(messages, changes, strict=True) if c.status == "Retry"]
        if not again:
            break
        await asyncio.sleep(0.3 if "server_error_rate" in faults else 1.1)
        await run(handler, again)
    # An edit whose read-back was throttled awaits: the watchdog reads it back (no resend).
    watchdog = CallbackWatchdog(
        sessionmaker, handler._adapters, handler, timeout_s=0, give_up_s=3_600, max_attempts=3
    )
    for _ in range(5):
        await asyncio.sleep(1.1)
        if not await watchdog.check_once():
            break

    changes = await changes_of(sessionmaker, messages)
    assert [c.status for c in changes] == ["Success"] * 3, [
        (c.status, c.error_code, c.error_message) for c in changes
    ]
    edits = (await cc.admin("GET", "/edits")).json()["edits"]
    assert [edits[d.iccid] for d in world.devices] == [1, 1, 1]  # none edited twice
    refused = [
        c
        for d in world.devices
        for c in await cc.calls(d.iccid)
        if c["errorCode"] in ("40000029", "30000001")
    ]
    assert refused, "the fault never struck"


async def test_an_operation_control_center_has_no_call_for_fails_with_a_reason(
    handler, world, sessionmaker
):
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.STATUS_UPDATE,
        [(world.devices[0], {"op": "suspend"})],
    )
    await run(handler, messages)
    (change,) = await changes_of(sessionmaker, messages)
    assert change.status == "Failed" and change.error_code == "Operation.Unsupported"


async def test_two_worker_processes_send_one_call_at_a_time_to_the_account(
    world, cc, sessionmaker, engine, credentials_key
):
    """Control Center takes one call at a time per account: two handlers (as two worker
    processes, each its own adapter) share the account's gate through the database."""
    await cc.admin(
        "PUT", f"/accounts/{cc.account}/faults", json={"max_concurrent": 1, "latency_ms": 300}
    )
    pools = [
        AdapterPool(credentials_key=credentials_key, timeout_s=5.0, engine=engine) for _ in range(2)
    ]
    handlers = [DeviceChangeHandler(sessionmaker, pool) for pool in pools]
    try:
        messages = await add_changes(
            sessionmaker,
            world,
            ChangeType.STATUS_UPDATE,
            [(d, {"op": "set_status", "status": "DEACTIVATED"}) for d in world.devices],
        )
        await asyncio.gather(run(handlers[0], messages[:2]), run(handlers[1], messages[2:]))
    finally:
        for pool in pools:
            await pool.aclose()

    changes = await changes_of(sessionmaker, messages)
    assert [c.status for c in changes] == ["Success"] * 3
    calls = [c for d in world.devices for c in await cc.calls(d.iccid)]
    assert not [c for c in calls if c["errorCode"] == "40000029"]
    stats = (await cc.admin("GET", "/stats")).json()
    assert stats["max_in_flight"][cc.account] == 1


async def test_the_watchdog_reads_many_devices_back_with_a_search_not_one_call_each(
    handler, world, cc, factory, sessionmaker
):
    """Control Center reads many devices at once with Search Devices by modification time."""
    more = await factory.devices(world.tenant, world.provider, 9, carrier_rate_plan="M2M 1GB")
    devices = world.devices + more
    await cc.admin(
        "POST",
        "/devices",
        json={
            "accountId": cc.account,
            "devices": [{"iccid": d.iccid, "status": "DEACTIVATED"} for d in devices],
        },
    )
    messages = await add_changes(
        sessionmaker,
        world,
        ChangeType.STATUS_UPDATE,
        [(d, {"op": "set_status", "status": "DEACTIVATED"}) for d in devices],
    )
    async with sessionmaker() as s, s.begin():
        await s.execute(
            text(
                "UPDATE device_change SET status = 'AwaitingCallback', attempts = 1, "
                "carrier_request_id = 'cc-pending', updated_at = now() - interval '1 hour' "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": [m.device_change_id for m in messages]},
        )
    before = len((await cc.admin("GET", "/calls")).json()["calls"])
    watchdog = CallbackWatchdog(
        sessionmaker, handler._adapters, handler, timeout_s=600, give_up_s=3_600, max_attempts=3
    )
    assert await watchdog.check_once() == len(devices)

    changes = await changes_of(sessionmaker, messages)
    assert {c.status for c in changes} == {"Success"}
    records = await devices_by_id(sessionmaker, [d.id for d in devices])
    assert {r.status for r in records.values()} == {"deactivated"}
    calls = (await cc.admin("GET", "/calls")).json()["calls"][before:]
    assert calls and all(c["endpoint"] == "GET /rws/api/v1/devices" for c in calls), [
        c["endpoint"] for c in calls
    ]


async def _more_devices(world, cc, factory, count: int) -> list:
    more = await factory.devices(world.tenant, world.provider, count, carrier_rate_plan="M2M 1GB")
    await cc.admin(
        "POST",
        "/devices",
        json={
            "accountId": cc.account,
            "devices": [
                {"iccid": d.iccid, "status": "ACTIVATED", "ratePlan": "M2M 1GB"} for d in more
            ],
        },
    )
    return [*world.devices, *more]


async def test_a_batch_on_a_one_call_account_waits_its_turn_in_the_process_not_in_a_delay_queue(
    world, cc, factory, sessionmaker, engine, credentials_key
):
    """Ten one-device requests of one batch: the account takes one call at a time, and a call
    may wait at most 1 s at its gate. Worked a few at a time in the process, none waits long
    enough to be deferred; all at once, most would be sent through the delay queue."""
    await cc.admin(
        "PUT",
        f"/accounts/{cc.account}/faults",
        json={"max_concurrent": 1, "calls_per_second": 5, "latency_ms": 100},
    )
    devices = await _more_devices(world, cc, factory, 7)
    pool = AdapterPool(
        credentials_key=credentials_key, timeout_s=5.0, engine=engine, rate_max_wait_s=1.0
    )
    handler = DeviceChangeHandler(sessionmaker, pool)
    try:
        messages = await add_changes(
            sessionmaker,
            world,
            ChangeType.STATUS_UPDATE,
            [(d, {"op": "set_status", "status": "DEACTIVATED"}) for d in devices],
        )
        await run(handler, messages)
    finally:
        await pool.aclose()

    changes = await changes_of(sessionmaker, messages)
    assert [(c.status, c.attempts) for c in changes] == [("Success", 1)] * 10
    calls = [c for d in devices for c in await cc.calls(d.iccid)]
    assert not [c for c in calls if c["errorCode"] == "40000029"]
    assert await _most_edits(cc, devices) == 1


async def _most_edits(cc, devices) -> int:
    """The most edits the simulator carried out on one of these devices."""
    counted = (await cc.admin("GET", "/edits")).json()["edits"]
    return max(counted.get(d.iccid, 0) for d in devices)


async def test_devices_past_the_accounts_wait_are_deferred_without_spending_an_attempt(
    world, cc, factory, sessionmaker, engine, credentials_key
):
    await cc.admin("PUT", f"/accounts/{cc.account}/faults", json={"latency_ms": 300})
    devices = await _more_devices(world, cc, factory, 3)
    pool = AdapterPool(credentials_key=credentials_key, timeout_s=5.0, engine=engine)
    handler = DeviceChangeHandler(sessionmaker, pool, account_wait_max_s=0.5)
    try:
        messages = await add_changes(
            sessionmaker,
            world,
            ChangeType.STATUS_UPDATE,
            [(d, {"op": "set_status", "status": "DEACTIVATED"}) for d in devices],
        )
        await run(handler, messages)
    finally:
        await pool.aclose()

    changes = await changes_of(sessionmaker, messages)
    done = [c for c in changes if c.status == "Success"]
    waiting = [c for c in changes if c.status == "Retry"]
    assert len(done) == 2  # the lane's two runners each did one before the wait ran out
    assert len(done) + len(waiting) == 6
    assert all(c.attempts == 0 for c in waiting)
    for change in waiting:
        assert [s.step for s in await steps_of(sessionmaker, change.id)][-1] == "budget"
    assert await _most_edits(cc, devices) == 1
