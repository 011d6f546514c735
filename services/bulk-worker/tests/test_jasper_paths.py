"""Control Center's three ways of learning a result leave the same device record: the
synchronous answer (the PUT, then the device read back), the resume check of an interrupted
attempt (the device read back before anything is sent again) and the watchdog of a device change
left awaiting (the device read back later). Each runs against the real jasper-sim over HTTP and
the real database, for each Control Center operation: a status, a rate plan, the username and
cost center. ThingSpace's version of this check is test_operation_specs.py.

A path that records a result its own way (a second copy of an effect) fails here, and so does a
resume check or watchdog that sends an edit again that the carrier already shows done."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from change_helpers import add_changes, changes_of, run
from sqlalchemy import text

from devicebulk_common import contracts as c
from devicebulk_common.carriers.jasper.factory import encrypt_credentials
from devicebulk_common.models import Device, DeviceChange, ServiceProvider
from devicebulk_worker import resume
from devicebulk_worker.watchdog import CallbackWatchdog
from jasper_sim import SimConfig, create_app
from jasper_sim.serving import serve

API = "/rws/api/v1"
PLANS = ["M2M 1GB", "M2M 5GB"]
TERMINAL = {c.DeviceChangeStatus.SUCCESS.value, c.DeviceChangeStatus.FAILED.value}


@dataclass(frozen=True)
class Case:
    op: str
    params: dict[str, Any]
    sim_status: str  # the SIM's status before the change
    our_status: c.DeviceStatus  # our neutral status for it
    # What the interrupted attempt (or the one left awaiting) had sent the carrier.
    sent: dict[str, str]
    # The carrier's view can show it done: nothing may be sent again after a resume or watchdog.
    shown: bool = True


CASES = [
    Case(
        "set_status",
        {"op": "set_status", "status": "DEACTIVATED"},
        "ACTIVATED",
        c.DeviceStatus.ACTIVE,
        {"status": "DEACTIVATED"},
    ),
    Case(
        "change_plan",
        {"op": "change_plan", "service_plan": "M2M 5GB", "current_service_plan": "M2M 1GB"},
        "ACTIVATED",
        c.DeviceStatus.ACTIVE,
        {"ratePlan": "M2M 5GB"},
    ),
    # Its first step (the username's custom field) had reached the carrier; the carrier's view
    # cannot show the change done, so the rest is sent (the same value again is the same edit).
    Case(
        "edit_username",
        {"op": "edit_username", "username": "alice", "cost_center": "CC-7"},
        "ACTIVATED",
        c.DeviceStatus.ACTIVE,
        {"accountCustom1": "alice"},
        shown=False,
    ),
]

# What each path leaves: our device record and the device change's outcome.
FIELDS = ("status", "carrier_rate_plan", "username", "cost_center", "is_active", "is_deleted")
# The SIM at the carrier.
SIM_FIELDS = ("status", "ratePlan", "accountCustom1", "accountCustom2")


@pytest.fixture(scope="module")
async def jasper_url() -> AsyncIterator[str]:
    async with serve(create_app(SimConfig(random_seed=11))) as url:
        yield url


@dataclass
class ControlCenter:
    url: str
    http: httpx.AsyncClient
    account: str
    user: str
    api_key: str

    async def admin(self, method: str, path: str, **kw: Any) -> Any:
        response = await self.http.request(method, f"{self.url}/_sim{path}", **kw)
        assert response.status_code < 300, response.text
        return response.json()

    async def edit(self, iccid: str, fields: dict[str, str]) -> None:
        """An edit sent as the worker's adapter sends it (its API user, HTTP Basic)."""
        response = await self.http.put(
            f"{self.url}{API}/devices/{iccid}", json=fields, auth=(self.user, self.api_key)
        )
        assert response.status_code == 200, response.text

    async def puts(self, iccid: str) -> int:
        calls = (await self.admin("GET", "/calls"))["calls"]
        return len([call for call in calls if call["method"] == "PUT" and iccid in call["path"]])

    async def sim(self, iccid: str) -> dict[str, Any]:
        shown = await self.admin("GET", f"/devices/{iccid}")
        return {name: shown[name] for name in SIM_FIELDS}


@pytest.fixture
async def cc(jasper_url) -> AsyncIterator[ControlCenter]:
    account = str(100_000_000 + uuid.uuid4().int % 899_999_999)
    user, api_key = f"api-{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(timeout=10) as http:
        center = ControlCenter(jasper_url, http, account, user, api_key)
        await center.admin(
            "POST",
            "/accounts",
            json={
                "accountId": account,
                "ratePlans": PLANS,
                "users": [{"userName": user, "apiKey": api_key}],
            },
        )
        yield center


@dataclass
class World:
    tenant: object
    provider: ServiceProvider
    devices: list[Device]


async def _world(
    factory, sessionmaker, credentials_key, cc: ControlCenter, case: Case, count: int = 3
) -> World:
    tenant = await factory.tenant()
    provider = ServiceProvider(
        id=uuid.uuid4().int % 1_000_000_000,
        name="POD19",
        integration="jasper",
        account_name=cc.account,
        base_url=f"{cc.url}{API}",
        write_enabled=True,
        credentials_encrypted=encrypt_credentials(
            credentials_key, username=cc.user, api_key=cc.api_key
        ),
    )
    async with sessionmaker() as s, s.begin():
        s.add(provider)
    devices = await factory.devices(
        tenant, provider, count, status=case.our_status, carrier_rate_plan=PLANS[0]
    )
    seeds = [{"iccid": d.iccid, "status": case.sim_status, "ratePlan": PLANS[0]} for d in devices]
    await cc.admin("POST", "/devices", json={"accountId": cc.account, "devices": seeds})
    return World(tenant, provider, devices)


async def _set(sessionmaker, dc_id: int, sql: str) -> None:
    async with sessionmaker() as s, s.begin():
        await s.execute(text(f"UPDATE device_change SET {sql} WHERE id = :id"), {"id": dc_id})


async def _until_terminal(handler, sessionmaker, messages) -> None:
    """Run the handler again for what is queued again (the next step of a change in two, a
    resend after a check): what the relay would deliver; no relay runs here."""
    for _ in range(6):
        changes = await changes_of(sessionmaker, messages)
        again = [
            m
            for m, dc in zip(messages, changes, strict=True)
            if dc.status in (c.DeviceChangeStatus.QUEUED.value, c.DeviceChangeStatus.RETRY.value)
        ]
        if not again:
            return
        for message in again:
            await handler(message)


async def _record(sessionmaker, device: Device, dc_id: int) -> dict[str, Any]:
    async with sessionmaker() as s:
        stored = await s.get(Device, device.id)
        change = await s.get(DeviceChange, dc_id)
    assert stored is not None and change is not None
    out: dict[str, Any] = {name: getattr(stored, name) for name in FIELDS}
    out["change"] = (change.status, change.error_code, change.result)
    return out


@pytest.mark.parametrize("case", CASES, ids=[case.op for case in CASES])
async def test_answer_resume_and_watchdog_record_the_same_device(
    case, handler, cc, factory, sessionmaker, credentials_key
):
    world = await _world(factory, sessionmaker, credentials_key, cc, case)
    _, by_resume, by_watchdog = world.devices
    messages = await add_changes(
        sessionmaker, world, c.ChangeType.STATUS_UPDATE, [(d, case.params) for d in world.devices]
    )
    answer_msg, resume_msg, watchdog_msg = messages

    # 1. The synchronous answer: the PUT, then the device read back.
    await handler(answer_msg)
    await _until_terminal(handler, sessionmaker, [answer_msg])

    # 2. An attempt interrupted after its PUT reached the carrier (its lease ran out).
    await cc.edit(by_resume.iccid, case.sent)
    await _set(
        sessionmaker,
        resume_msg.device_change_id,
        "status = 'Processing', attempts = 1, lease_owner = 'dead-worker', "
        "lease_expires_at = now() - interval '1 minute'",
    )
    await handler(resume_msg)
    await _until_terminal(handler, sessionmaker, [resume_msg])

    # 3. An edit accepted and left awaiting its confirmation, overdue for the watchdog.
    await cc.edit(by_watchdog.iccid, case.sent)
    await _set(
        sessionmaker,
        watchdog_msg.device_change_id,
        "status = 'AwaitingCallback', attempts = 1, "
        f"carrier_request_id = 'cc-pending-{by_watchdog.iccid}', "
        "updated_at = now() - interval '1 hour'",
    )
    watchdog = CallbackWatchdog(
        sessionmaker, handler._adapters, handler, timeout_s=600, give_up_s=86_400, max_attempts=3
    )
    assert await watchdog.check_once() == 1
    await _until_terminal(handler, sessionmaker, [watchdog_msg])

    answered, resumed, watched = [
        await _record(sessionmaker, device, message.device_change_id)
        for device, message in zip(world.devices, messages, strict=True)
    ]
    assert answered["change"][0] == "Success", answered
    assert resumed == answered
    assert watched == answered
    at_carrier = [await cc.sim(d.iccid) for d in world.devices]
    assert at_carrier[1] == at_carrier[0] and at_carrier[2] == at_carrier[0]
    if case.shown:
        # The carrier showed it done: the check recorded it and sent nothing again.
        assert [await cc.puts(d.iccid) for d in world.devices] == [1, 1, 1]


@pytest.mark.parametrize("shown_done", [2, resume.LIST_ACCOUNT_FROM])
async def test_a_resumed_device_the_carrier_shows_done_succeeds_whatever_its_neighbours_check(
    handler, cc, factory, sessionmaker, credentials_key, shown_done
):
    """Interrupted attempts resumed together: one device the carrier does not know
    (20000001) fails alone, and does not take down the verdicts of the devices the carrier
    showed done, whether they are read one by one (a few) or by a search by modification time
    (many; the unknown device, not in the search, is read by its details)."""
    case = CASES[0]
    world = await _world(factory, sessionmaker, credentials_key, cc, case, count=shown_done)
    gone = (await factory.devices(world.tenant, world.provider, 1, status=case.our_status))[0]
    done = world.devices[:shown_done]
    messages = await add_changes(
        sessionmaker,
        world,
        c.ChangeType.STATUS_UPDATE,
        [(d, case.params) for d in [*done, gone]],
    )
    for device, message in zip([*done, gone], messages, strict=True):
        if device is not gone:
            await cc.edit(device.iccid, case.sent)
        await _set(
            sessionmaker,
            message.device_change_id,
            "status = 'Processing', attempts = 1, lease_owner = 'dead-worker', "
            "lease_expires_at = now() - interval '1 minute'",
        )

    await run(handler, messages)

    changes = await changes_of(sessionmaker, messages)
    outcome = [(dc.status, dc.error_code) for dc in changes]
    assert outcome == [("Success", None)] * shown_done + [("Failed", "20000001")], outcome
