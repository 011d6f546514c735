"""The Control Center adapter against the simulator over real HTTP (and, for what several worker
processes share, the real PostgreSQL: the gate and the refusal cache)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from jasper_sim_account import jasper_account

from devicebulk_common.carriers import (
    CredentialsRefusedError,
    PermanentCarrierError,
    TransientCarrierError,
)
from devicebulk_common.carriers.jasper import SharedGate
from devicebulk_common.carriers.shared_tokens import SharedTokenCache
from devicebulk_common.db.engine import create_engine


async def test_status_change_is_applied_and_confirmed_by_read_back():
    async with jasper_account(1, status="ACTIVATION_READY") as sim, httpx.AsyncClient() as http:
        adapter = sim.adapter(http)
        [device] = sim.devices

        accepted = await adapter.set_status(device, "ACTIVATED")
        confirmation = await adapter.confirm(accepted)

        assert accepted.applied is True
        assert accepted.exchange.status_code == 200
        assert (confirmation.state, confirmation.method) == ("confirmed", "read_back")
        assert confirmation.seen is not None and confirmation.seen.state == "ACTIVATED"
        assert (await sim.device(device.iccid))["status"] == "ACTIVATED"


async def test_a_refused_transition_and_an_unknown_rate_plan_are_final_for_the_device():
    async with jasper_account(1) as sim, httpx.AsyncClient() as http:
        adapter = sim.adapter(http)
        [device] = sim.devices

        with pytest.raises(PermanentCarrierError) as back:
            await adapter.set_status(device, "INVENTORY")
        with pytest.raises(PermanentCarrierError) as plan:
            await adapter.change_rate_plan(device, "No such plan")

        assert (back.value.code, back.value.retryable) == ("10000029", False)
        assert plan.value.code == "10000013"
        assert (await sim.edits())["max"] == 0


async def test_rate_plan_and_username_fields_are_set_and_read_back():
    async with jasper_account(1) as sim, httpx.AsyncClient() as http:
        adapter = sim.adapter(
            http, username_field="accountCustom3", cost_center_field="accountCustom4"
        )
        [device] = sim.devices

        plan = await adapter.confirm(await adapter.change_rate_plan(device, "M2M 5GB"))
        user = await adapter.confirm(await adapter.set_username(device, "alice", "CC-42"))
        seen = await adapter.get_device(device)

        assert plan.state == user.state == "confirmed"
        assert seen.service_plan == "M2M 5GB"
        assert seen.custom_fields["accountCustom3"] == "alice"
        assert seen.custom_fields["accountCustom4"] == "CC-42"
        stored = await sim.device(device.iccid)
        assert (stored["accountCustom3"], stored["accountCustom4"]) == ("alice", "CC-42")


async def test_a_late_change_is_pending_in_the_audit_trail_then_confirmed():
    async with jasper_account(1, faults={"late_apply_s": 2}) as sim, httpx.AsyncClient() as http:
        adapter = sim.adapter(http)
        [device] = sim.devices

        accepted = await adapter.set_username(device, "bob", "CC-9")
        early = await adapter.confirm(accepted)
        await asyncio.sleep(2.2)
        late = await adapter.confirm(accepted)

        assert accepted.applied is True  # the carrier said 200 ...
        assert (early.state, early.method) == ("pending", "audit_trail")  # ... but had not done it
        assert "Pending" in early.reason
        assert late.state == "confirmed"
        assert (await sim.edits())["edits"] == {device.iccid: 1}


async def test_a_dated_change_is_confirmed_from_the_audit_trail_even_once_overwritten():
    async with jasper_account(1) as sim, httpx.AsyncClient() as http:
        adapter = sim.adapter(http)
        [device] = sim.devices
        due = datetime.now(UTC) + timedelta(seconds=3)  # sent to the second

        accepted = await adapter.change_rate_plan(device, "M2M 5GB", effective_at=due)
        before = await adapter.confirm(accepted)
        await asyncio.sleep((accepted.effective_at - datetime.now(UTC)).total_seconds() + 0.2)
        await adapter.change_rate_plan(device, "M2M 1GB")  # someone changes it again
        after = await adapter.confirm(accepted)

        assert (accepted.applied, accepted.exchange.status_code) == (False, 202)
        assert (before.state, before.method) == ("pending", "audit_trail")
        assert (after.state, after.method) == ("confirmed", "audit_trail")


async def test_a_dated_status_change_the_sim_no_longer_allows_is_refused_by_the_audit_trail():
    async with jasper_account(1) as sim, httpx.AsyncClient() as http:
        adapter = sim.adapter(http)
        [device] = sim.devices
        due = datetime.now(UTC) + timedelta(seconds=3)  # sent to the second

        accepted = await adapter.set_status(device, "DEACTIVATED", effective_at=due)
        await adapter.set_status(device, "DEACTIVATED")
        await adapter.set_status(device, "RETIRED")  # RETIRED may not become DEACTIVATED
        await asyncio.sleep((accepted.effective_at - datetime.now(UTC)).total_seconds() + 0.2)
        confirmation = await adapter.confirm(accepted)

        assert confirmation.state == "refused"
        assert "Failed" in confirmation.reason


async def test_202_is_confirmed_by_read_back():
    async with jasper_account(1, faults={"accepted_rate": 1}) as sim, httpx.AsyncClient() as http:
        adapter = sim.adapter(http)
        [device] = sim.devices

        accepted = await adapter.set_status(device, "DEACTIVATED")
        confirmation = await adapter.confirm(accepted)

        assert (accepted.applied, accepted.exchange.status_code) == (False, 202)
        assert (confirmation.state, confirmation.method) == ("confirmed", "read_back")


async def test_many_devices_are_read_back_with_one_search():
    async with jasper_account(4) as sim, httpx.AsyncClient() as http:
        adapter = sim.adapter(http)
        start = datetime.now(UTC) - timedelta(seconds=1)
        for device in sim.devices[:3]:
            await adapter.set_status(device, "DEACTIVATED")
        calls_before = (await sim.stats())["calls"]

        seen = await adapter.read_back(sim.devices, since=start)

        assert {i: d.state for i, d in seen.items()} == {
            **{i: "DEACTIVATED" for i in sim.iccids[:3]},
            sim.iccids[3]: "ACTIVATED",  # seeded just now, so modified since `start` too
        }
        assert (await sim.stats())["calls"] - calls_before == 1


async def test_30000001_is_transient_and_changes_nothing():
    async with (
        jasper_account(1, faults={"server_error_rate": 1}) as sim,
        httpx.AsyncClient() as http,
    ):
        adapter = sim.adapter(http)
        [device] = sim.devices

        with pytest.raises(TransientCarrierError) as caught:
            await adapter.set_status(device, "DEACTIVATED")

        assert (caught.value.code, caught.value.outcome_unknown) == ("30000001", True)
        assert (await sim.device(device.iccid))["status"] == "ACTIVATED"


async def _two_processes(sim, database_url, credentials_key, per_second, **config):
    """Two adapters with their own engine, HTTP client and caches, sharing PostgreSQL."""
    key = f"jasper:{sim.base_url}:{sim.account}:{uuid.uuid4()}"
    parts = []
    for _ in range(2):
        engine = create_engine(database_url, pool_size=3)
        http = httpx.AsyncClient(timeout=30)
        adapter = sim.adapter(
            http,
            cache=SharedTokenCache(engine, credentials_key=credentials_key),
            gate=SharedGate(engine, key, 1, interval_s=1 / per_second, max_wait_s=60),
            **config,
        )
        parts.append((engine, http, adapter))
    return parts


async def _close(parts):
    for engine, http, _ in parts:
        await http.aclose()
        await engine.dispose()


async def test_two_processes_keep_one_call_at_a_time_and_the_cap(database_url, credentials_key):
    # Calls last longer than the pacing interval: without the shared gate they would overlap.
    faults = {"calls_per_second": 5, "max_concurrent": 1, "latency_ms": 300}
    async with jasper_account(16, faults=faults) as sim:
        parts = await _two_processes(sim, database_url, credentials_key, 5 * 0.9)
        try:
            await asyncio.gather(
                *(
                    parts[n % 2][2].set_status(device, "DEACTIVATED")
                    for n, device in enumerate(sim.devices)
                )
            )
        finally:
            await _close(parts)
        stats = await sim.stats()

        assert stats["by_error_code"] == {}  # no 40000029 provoked
        assert stats["max_in_flight"][sim.account] == 1
        assert (await sim.edits())["max"] == 1
        assert stats["edits"] == 16


async def test_40000029_bursts_are_backed_off_and_no_device_is_edited_twice(
    database_url, credentials_key
):
    # Our budget (10/s) is twice the carrier's cap (5/s): the carrier answers 40000029 often.
    faults = {"calls_per_second": 5, "max_concurrent": 1, "rate_limit_status": 400}
    async with jasper_account(12, faults=faults) as sim:
        parts = await _two_processes(
            sim, database_url, credentials_key, 10, throttle_retries=8, throttle_backoff_s=0.2
        )
        try:
            await asyncio.gather(
                *(
                    parts[n % 2][2].set_status(device, "DEACTIVATED")
                    for n, device in enumerate(sim.devices)
                )
            )
        finally:
            await _close(parts)
        stats = await sim.stats()

        assert stats["by_error_code"].get("40000029", 0) > 0
        edits = await sim.edits()
        assert edits["max"] == 1
        assert set(edits["edits"]) == set(sim.iccids)
        for iccid in sim.iccids:
            assert (await sim.device(iccid))["status"] == "DEACTIVATED"


async def test_a_revoked_key_stops_the_provider_with_one_refused_call(
    database_url, credentials_key
):
    async with jasper_account(10) as sim:
        (await sim.admin.post(f"/_sim/users/{sim.username}/revoke")).raise_for_status()
        parts = await _two_processes(sim, database_url, credentials_key, 50)
        try:
            outcomes = await asyncio.gather(
                *(
                    parts[n % 2][2].set_status(device, "DEACTIVATED")
                    for n, device in enumerate(sim.devices)
                ),
                return_exceptions=True,
            )
        finally:
            await _close(parts)
        stats = await sim.stats()

        assert all(isinstance(o, CredentialsRefusedError) for o in outcomes)
        assert all(not o.retryable for o in outcomes)
        assert stats["auth_refused"] == 1
        assert stats["calls"] == 1
