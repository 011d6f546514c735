"""Multi-device requests: gathered device changes go to the carrier as one request, the
carrier's per-device callbacks come back through the real receiver, and a batch that partly
fails ends with the others Success."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from change_helpers import settle, steps_of
from sqlalchemy import select, update
from worker_helpers import add_bulk_change, credentials

from devicebulk_callbacks.app import create_app as create_receiver
from devicebulk_callbacks.settings import CallbackSettings
from devicebulk_common.crypto import digest, encrypt_json
from devicebulk_common.models import BulkChange, Device, DeviceChange, ServiceProvider, Tenant
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.gather import Gatherer
from devicebulk_worker.handler import DeviceChangeHandler
from thingspace_sim.serving import serve

ACTIVATE = "POST /api/m2m/v1/devices/actions/activate"


@dataclass
class Listening:
    tenant: Tenant
    provider: ServiceProvider
    devices: list[Device]


@pytest.fixture
async def receiver_url(database_url) -> AsyncIterator[str]:
    app = create_receiver(CallbackSettings(database_url=database_url, callbacks_provider_cache_s=0))
    async with serve(app) as url:
        yield url


@pytest.fixture
async def listening(factory, carrier, receiver_url, credentials_key) -> Listening:
    """A provider whose carrier account delivers its callbacks to the real receiver."""
    tenant = await factory.tenant()
    provider = await factory.provider(
        account_name=carrier.account,
        base_url=f"{carrier.url}/api",
        credentials=credentials(carrier.account),
        callback_username="ts-callback",
        callback_password_encrypted=encrypt_json(credentials_key, {"password": "cb-secret"}),
        callback_path_secret_sha256=digest("path-secret"),
    )
    devices = await factory.devices(tenant, provider, 12, carrier_rate_plan="M2M_4G")
    adapters = AdapterPool(credentials_key=credentials_key, timeout_s=5.0)
    try:
        await adapters.adapter(provider).register_callback(
            f"{receiver_url}/callbacks/thingspace/{provider.id}/path-secret",
            "ts-callback",
            "cb-secret",
        )
    finally:
        await adapters.aclose()
    return Listening(tenant, provider, devices)


async def wait_terminal(sessionmaker, bulk_id: uuid.UUID, timeout_s: float = 30) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        async with sessionmaker() as s:
            bulk = await s.get(BulkChange, bulk_id)
            if bulk.status == "PROCESSED":
                return (
                    await s.scalars(
                        select(DeviceChange)
                        .where(DeviceChange.bulk_change_id == bulk_id)
                        .order_by(DeviceChange.id)
                    )
                ).all()
        await asyncio.sleep(0.2)
    raise AssertionError("the bulk change did not complete")


async def test_a_gathered_batch_with_3_already_active_devices_ends_all_success(
    listening, carrier, sessionmaker, credentials_key
):
    """The carrier refuses 3 devices as DeviceAlreadyActive: they are read back from its device
    list (active, MSISDN, plan) and recorded Success, which is the state asked for."""
    refused = listening.devices[:3]
    await carrier.seed(
        [
            {
                "iccid": d.iccid,
                "imei": d.imei,
                "servicePlan": "M2M_4G",
                "state": "active" if d in refused else "preactive",
                **({"mdn": f"55501{n:05d}"} if d in refused else {}),
            }
            for n, d in enumerate(listening.devices)
        ]
    )
    messages = await add_bulk_change(sessionmaker, listening, "activate")
    adapters = AdapterPool(credentials_key=credentials_key, timeout_s=5.0)
    handler = DeviceChangeHandler(sessionmaker, adapters, batch_max=100, batch_wait_s=0.2)
    try:
        before = await carrier.calls(ACTIVATE)
        await asyncio.gather(*(handler(m) for m in messages))
        assert await carrier.calls(ACTIVATE) == before + 1  # twelve devices, one request
        changes = await settle(sessionmaker, messages, until=frozenset({"Success", "Queued"}))
        read_back = [m for m, dc in zip(messages, changes, strict=True) if dc.status == "Queued"]
        assert {dc.iccid for dc in changes if dc.status == "Queued"} == {d.iccid for d in refused}
        await asyncio.gather(*(handler(m) for m in read_back))  # as the relay publishes them
        changes = await wait_terminal(sessionmaker, messages[0].bulk_change_id)
    finally:
        await adapters.aclose()

    assert await carrier.calls(ACTIVATE) == before + 1  # read back, never sent again
    succeeded = [c for c in changes if c.status == "Success"]
    assert len(succeeded) == 12 and all(c.result.get("msisdn") for c in succeeded)
    by_iccid = {c.iccid: c for c in changes}
    for n, d in enumerate(listening.devices):
        if d in refused:
            assert by_iccid[d.iccid].result["msisdn"].endswith(f"55501{n:05d}")
            steps = await steps_of(sessionmaker, by_iccid[d.iccid].id)
            assert any("DeviceAlreadyActive" in (s.message or "") for s in steps)
            assert any("already shows the device active" in (s.message or "") for s in steps)
    async with sessionmaker() as s:
        devices = (
            await s.scalars(select(Device).where(Device.id.in_([d.id for d in listening.devices])))
        ).all()
    assert {d.iccid for d in devices if d.status == "active" and d.msisdn} >= {
        c.iccid for c in succeeded
    }


async def test_a_request_refused_for_one_device_is_split_and_the_others_go_ahead(
    handler, world, carrier, sessionmaker
):
    # The carrier refuses a whole request whose list holds a malformed identifier: the worker
    # halves the batch until the bad device is alone, and sends the others.
    bad = world.devices[1]
    async with sessionmaker() as s, s.begin():
        await s.execute(update(Device).where(Device.id == bad.id).values(imei="35693X"))
    messages = await add_bulk_change(sessionmaker, world, "activate")
    await asyncio.gather(*(handler(m) for m in messages))
    async with sessionmaker() as s:
        changes = {
            c.device_id: c
            for c in (
                await s.scalars(
                    select(DeviceChange).where(
                        DeviceChange.bulk_change_id == messages[0].bulk_change_id
                    )
                )
            ).all()
        }
    assert changes[bad.id].status == "Failed"
    assert changes[bad.id].error_code.endswith("Device.Identifier.Invalid")
    others = [c for d, c in changes.items() if d != bad.id]
    assert all(c.status == "AwaitingCallback" and c.carrier_request_id for c in others)


async def test_gatherer_flushes_at_the_size_bound_and_after_the_wait():
    batches: list[list[int]] = []

    async def run(ids: list[int]) -> dict[int, BaseException]:
        batches.append(sorted(ids))
        return {3: RuntimeError("could not record")} if 3 in ids else {}

    gatherer = Gatherer(run, max_size=4, max_wait_s=0.05)
    results = await asyncio.gather(*(gatherer.submit(i) for i in range(6)), return_exceptions=True)
    assert batches == [[0, 1, 2, 3], [4, 5]]  # full at four; the rest after the wait
    assert [isinstance(r, RuntimeError) for r in results] == [False] * 3 + [True] + [False] * 2


async def test_gatherer_waits_while_the_stream_flows_and_flushes_when_it_pauses():
    batches: list[list[int]] = []

    async def run(ids: list[int]) -> dict[int, BaseException]:
        batches.append(sorted(ids))
        return {}

    gatherer = Gatherer(run, max_size=100, max_wait_s=30.0, quiet_s=0.5)
    submitted = []
    for i in range(8):  # one every 20 ms: never quiet for 500 ms, so one batch of eight
        submitted.append(asyncio.create_task(gatherer.submit(i)))
        await asyncio.sleep(0.02)
    await asyncio.wait_for(asyncio.gather(*submitted), timeout=10)  # the pause flushed them
    assert batches == [list(range(8))]
    late = asyncio.create_task(gatherer.submit(99))  # a lone device waits only the quiet gap
    await asyncio.wait_for(late, timeout=10)
    assert batches == [list(range(8)), [99]]


async def test_gatherer_flushes_a_flowing_stream_at_max_wait():
    batches: list[list[int]] = []

    async def run(ids: list[int]) -> dict[int, BaseException]:
        batches.append(sorted(ids))
        return {}

    gatherer = Gatherer(run, max_size=100, max_wait_s=0.2, quiet_s=0.1)
    tasks = []
    for i in range(10):  # one every 50 ms for 0.5 s: flushed at the 0.2 s bound, not at the end
        tasks.append(asyncio.create_task(gatherer.submit(i)))
        await asyncio.sleep(0.05)
    await asyncio.gather(*tasks)
    assert len(batches) >= 2
    assert sorted(i for b in batches for i in b) == list(range(10))


async def test_gatherer_does_not_take_a_busy_event_loop_for_a_pause():
    """Messages that arrived while the loop was busy (recording a batch) reach submit() only
    after the late timer: the batch must wait for them, not go out alone."""
    batches: list[list[int]] = []

    async def run(ids: list[int]) -> dict[int, BaseException]:
        batches.append(sorted(ids))
        return {}

    loop = asyncio.get_running_loop()
    gatherer = Gatherer(run, max_size=100, max_wait_s=30.0, quiet_s=0.2)
    tasks = [asyncio.create_task(gatherer.submit(1))]
    await asyncio.sleep(0.05)

    def busy_then_a_message() -> None:
        time.sleep(0.5)  # the loop is blocked past the quiet gap
        loop.call_soon(lambda: tasks.append(asyncio.create_task(gatherer.submit(2))))

    loop.call_soon(busy_then_a_message)
    await asyncio.sleep(0.1)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    assert batches == [[1, 2]]
