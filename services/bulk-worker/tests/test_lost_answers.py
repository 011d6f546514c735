"""An answer lost after the carrier acted (a gateway 504 with a carrier error code) is checked,
in one device list for many devices, never re-sent; the need to ask first survives a 429 and a
failed check; throttling spends no attempt."""

from __future__ import annotations

import asyncio

import pytest
from change_helpers import changes_of, run
from sqlalchemy import select
from worker_helpers import add_bulk_change

from devicebulk_common.callbacks import lock_request, reconcile_swept
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import CarrierCallback
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.handler import DeviceChangeHandler
from devicebulk_worker.retry import ASK_FIRST

ACTIVATE = "POST /api/m2m/v1/devices/actions/activate"
LIST = "POST /api/m2m/v1/devices/actions/list"


async def _faults(carrier, **faults) -> None:
    r = await carrier.http.put(f"/_sim/accounts/{carrier.account}/faults", json=faults)
    r.raise_for_status()


async def _activations(carrier, iccids) -> dict[str, int]:
    counted = (await carrier.http.get("/_sim/actions", params={"action": "activate"})).json()
    return {i: counted["actions"].get(f"activate:{i}", 0) for i in iccids}


@pytest.mark.parametrize("mode", ["gateway_504", "reset"])
async def test_a_504_after_a_200_device_activation_ends_all_success_activated_once(
    mode, sessionmaker, credentials_key, factory, world, carrier, listening
):
    devices = await factory.devices(world.tenant, world.provider, 200, carrier_rate_plan="M2M_4G")
    await carrier.seed(
        [
            {"iccid": d.iccid, "imei": d.imei, "state": "preactive", "servicePlan": "M2M_4G"}
            for d in devices
        ]
    )
    messages = await add_bulk_change(sessionmaker, world, "activate", devices=devices)
    adapters = AdapterPool(credentials_key=credentials_key, timeout_s=5.0)
    handler = DeviceChangeHandler(sessionmaker, adapters, batch_max=1_000, batch_wait_s=0.3)
    await _faults(carrier, lost_answer_rate=1.0, lost_answer_mode=mode)
    activations, lists = await carrier.calls(ACTIVATE), await carrier.calls(LIST)
    try:
        await run(handler, messages)
        changes = await changes_of(sessionmaker, messages)
        assert {dc.status for dc in changes} == {"Retry"}
        assert all(dc.params[ASK_FIRST] for dc in changes)
        await _faults(carrier)  # the carrier answers again
        for _ in range(100):  # the carrier's callbacks for the lost request are delivered
            if len(listening.received) >= 200:
                break
            await asyncio.sleep(0.05)
        await run(handler, messages)  # the delayed retries
    finally:
        await adapters.aclose()
    changes = await changes_of(sessionmaker, messages)
    assert [dc.status for dc in changes] == ["Success"] * 200
    assert all(dc.result.get("msisdn") for dc in changes)
    assert await carrier.calls(ACTIVATE) == activations + 1  # never sent twice
    assert set((await _activations(carrier, [d.iccid for d in devices])).values()) == {1}
    assert await carrier.calls(LIST) - lists == 1  # one account list, not 200 device lists


async def test_the_need_to_ask_first_survives_a_429_and_a_failed_check(
    handler, world, carrier, sessionmaker
):
    (message,) = await add_bulk_change(sessionmaker, world, "activate", devices=world.devices[:1])
    await _faults(
        carrier, lost_answer_rate=1.0, lost_answer_mode="gateway_504", callback_delay_s=30
    )
    activations = await carrier.calls(ACTIVATE)
    await handler(message)
    (change,) = await changes_of(sessionmaker, [message])
    assert change.status == "Retry" and change.attempts == 1

    await _faults(carrier, rate_limit_per_minute=0, callback_delay_s=30)  # the check gets 429
    await handler(message)
    (change,) = await changes_of(sessionmaker, [message])
    assert change.status == "Retry" and change.error_code.endswith("RateLimitExceeded")
    assert change.attempts == 1  # throttling spent no attempt
    assert change.params[ASK_FIRST]

    await _faults(carrier, error_rate=1.0, callback_delay_s=30)  # the check gets a 5xx
    await handler(message)
    (change,) = await changes_of(sessionmaker, [message])
    assert change.status == "Retry" and change.params[ASK_FIRST]

    await _faults(carrier, callback_delay_s=30)
    await handler(message)  # the check works: the activation is under way
    (change,) = await changes_of(sessionmaker, [message])
    assert change.status == "AwaitingCallback"
    assert await carrier.calls(ACTIVATE) == activations + 1
    assert await _activations(carrier, [world.devices[0].iccid]) == {world.devices[0].iccid: 1}


async def test_a_check_that_settled_the_device_clears_the_need_to_ask_first(
    handler, world, carrier, sessionmaker
):
    (first,) = await add_bulk_change(sessionmaker, world, "activate", devices=world.devices[1:2])
    await handler(first)  # logged in: the faults below meet the activation, not the login
    (message,) = await add_bulk_change(sessionmaker, world, "activate", devices=world.devices[:1])
    # The request hangs and the gateway answers 504: it may have reached the carrier.
    await _faults(carrier, timeout_rate=1.0, timeout_s=0)
    await handler(message)
    (change,) = await changes_of(sessionmaker, [message])
    assert change.status == "Retry" and change.params[ASK_FIRST]

    # The check (a list) finds it not done, and the activation sent again is refused with a
    # 429 (the list took the minute's only slot): the carrier did nothing with it.
    await _faults(carrier, rate_limit_per_minute=1)
    lists = await carrier.calls(LIST)
    await handler(message)
    (change,) = await changes_of(sessionmaker, [message])
    assert change.status == "Retry" and change.error_code.endswith("RateLimitExceeded")
    assert await carrier.calls(LIST) == lists + 1
    assert not change.params.get(ASK_FIRST)

    await _faults(carrier)
    await handler(message)  # sent at once: nothing is unknown, no list request
    (change,) = await changes_of(sessionmaker, [message])
    assert change.status == "AwaitingCallback"
    assert await carrier.calls(LIST) == lists + 1
    assert await _activations(carrier, [world.devices[0].iccid]) == {world.devices[0].iccid: 1}


async def test_the_success_callbacks_of_a_lost_answer_settle_its_retries_without_a_list(
    sessionmaker, credentials_key, factory, world, carrier, listening
):
    devices = await factory.devices(world.tenant, world.provider, 50, carrier_rate_plan="M2M_4G")
    await carrier.seed(
        [
            {"iccid": d.iccid, "imei": d.imei, "state": "preactive", "servicePlan": "M2M_4G"}
            for d in devices
        ]
    )
    messages = await add_bulk_change(sessionmaker, world, "activate", devices=devices)
    adapters = AdapterPool(credentials_key=credentials_key, timeout_s=5.0)
    handler = DeviceChangeHandler(sessionmaker, adapters, batch_max=1_000, batch_wait_s=0.3)
    await _faults(carrier, lost_answer_rate=1.0, lost_answer_mode="gateway_504")
    lists = await carrier.calls(LIST)
    try:
        await run(handler, messages)  # carried out, answered 504: every device Retry, unknown
        await _faults(carrier)
        iccids = [d.iccid for d in devices]
        for _ in range(600):  # the carrier's callbacks for the lost request are stored (30 s)
            async with sessionmaker() as s:
                stored = (
                    await s.execute(
                        select(CarrierCallback.id, CarrierCallback.request_id).where(
                            CarrierCallback.iccid.in_(iccids),
                            CarrierCallback.processed_at.is_(None),
                        )
                    )
                ).all()
            if len(stored) >= 50:
                break
            await asyncio.sleep(0.05)
        # The receiver's sweeper: the request id was never recorded, so the callbacks are
        # matched by device; each finds its device change waiting to ask the carrier.
        assert len(stored) == 50
        (request_id,) = {row.request_id for row in stored}
        pending = [row.id for row in stored]
        async with unit_of_work(sessionmaker) as s:
            await lock_request(s, request_id)
            await reconcile_swept(s, pending)
        await run(handler, messages)  # the delayed retries find every device settled
    finally:
        await adapters.aclose()
    changes = await changes_of(sessionmaker, messages)
    assert [dc.status for dc in changes] == ["Success"] * 50
    assert all(dc.result.get("msisdn") for dc in changes)
    assert await carrier.calls(LIST) == lists  # the callbacks told us: no list needed
    assert set((await _activations(carrier, [d.iccid for d in devices])).values()) == {1}
