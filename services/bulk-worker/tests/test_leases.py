"""One live attempt per device change: a redelivered copy of a message being worked (RabbitMQ
requeues unacked deliveries when a connection closes) leaves the live attempt alone."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from worker_helpers import add_bulk_change, outbox_for

from devicebulk_common import contracts as c
from devicebulk_common.lifecycle import count_terminal
from devicebulk_common.models import BulkChange, DeviceChange, DeviceChangeLog
from devicebulk_common.operation_specs import SPECS
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.handler import DeviceChangeHandler

ACTIVATE = "POST /api/m2m/v1/devices/actions/activate"


async def _faults(carrier, **faults) -> None:
    r = await carrier.http.put(f"/_sim/accounts/{carrier.account}/faults", json=faults)
    r.raise_for_status()


async def _status(sessionmaker, message) -> str:
    async with sessionmaker() as s:
        return (await s.get(DeviceChange, message.device_change_id)).status


async def test_a_copy_delivered_while_the_first_is_worked_is_left_alone(
    sessionmaker, credentials_key, world, carrier
):
    (message, *_) = await add_bulk_change(
        sessionmaker, world, "activate", devices=world.devices[:1]
    )
    before = await carrier.calls(ACTIVATE)
    await _faults(carrier, latency_ms=1500)  # the first attempt's request is slow to answer
    first_process = AdapterPool(credentials_key=credentials_key, timeout_s=10.0)
    second_process = AdapterPool(credentials_key=credentials_key, timeout_s=10.0)
    first = DeviceChangeHandler(sessionmaker, first_process, batch_wait_s=0.01)
    second = DeviceChangeHandler(sessionmaker, second_process, batch_wait_s=0.01)
    try:
        working = asyncio.create_task(first(message))
        for _ in range(200):
            if await _status(sessionmaker, message) == "Processing":
                break
            await asyncio.sleep(0.02)
        await second(message)  # the requeued copy, in another process: returns, calls nothing
        await working
    finally:
        await _faults(carrier)
        await first_process.aclose()
        await second_process.aclose()
    assert await carrier.calls(ACTIVATE) == before + 1
    async with sessionmaker() as s:
        change = await s.get(DeviceChange, message.device_change_id)
        steps = (
            await s.scalars(
                select(DeviceChangeLog.step).where(DeviceChangeLog.device_change_id == change.id)
            )
        ).all()
    assert change.status == "AwaitingCallback" and change.attempts == 1
    assert steps.count("attempt") == 1
    # The copy comes back after the lease's expiry, to find the change settled or resume it.
    assert any(m.exchange == c.EXCHANGE_RETRY for m in await outbox_for(sessionmaker, change.id))


async def test_a_copy_of_a_change_leased_for_two_minutes_looks_again_within_the_60_s_tier(
    handler, sessionmaker, world, carrier
):
    (message, *_) = await add_bulk_change(
        sessionmaker, world, "activate", devices=world.devices[:1], status="Processing"
    )
    async with sessionmaker() as s, s.begin():
        await s.execute(
            update(DeviceChange)
            .where(DeviceChange.id == message.device_change_id)
            .values(
                lease_owner="a-live-worker",
                lease_expires_at=datetime.now(UTC) + timedelta(seconds=120),
            )
        )
    await handler(message)

    assert await _status(sessionmaker, message) == "Processing"  # left to its owner
    (deferred,) = await outbox_for(sessionmaker, message.device_change_id)
    # Not the 600 s tier, where it could wait behind longer delays well past the expiry.
    assert (deferred.exchange, deferred.routing_key) == (c.EXCHANGE_RETRY, c.RETRY_TIERS[1])
    assert deferred.expiration_ms <= 60_000


async def test_an_expired_lease_is_resumed(handler, sessionmaker, world, carrier):
    """The attempt's owner died (its lease ran out): the next delivery asks and carries on."""
    (message, *_) = await add_bulk_change(
        sessionmaker, world, "activate", devices=world.devices[:1], status="Processing"
    )
    async with sessionmaker() as s, s.begin():
        await s.execute(
            update(DeviceChange)
            .where(DeviceChange.id == message.device_change_id)
            .values(
                lease_owner="a-dead-worker",
                lease_expires_at=datetime.now(UTC) - timedelta(seconds=5),
            )
        )
    await handler(message)
    assert await _status(sessionmaker, message) in ("AwaitingCallback", "Success")


async def test_the_countdown_never_goes_below_zero_nor_completes_with_devices_open(
    sessionmaker, world
):
    (message, *_) = await add_bulk_change(sessionmaker, world, "activate")
    async with sessionmaker() as s:
        n = (await s.get(BulkChange, message.bulk_change_id)).remaining_count
    with pytest.raises(IntegrityError):
        async with sessionmaker() as s, s.begin():
            await count_terminal(s, message.bulk_change_id, n + 1)
    # A count that reaches zero while device changes are open does not complete it.
    async with sessionmaker() as s, s.begin():
        assert not await count_terminal(s, message.bulk_change_id, n)
    async with sessionmaker() as s:
        assert (await s.get(BulkChange, message.bulk_change_id)).status != "PROCESSED"


async def test_an_outcome_that_cannot_be_recorded_ends_failed_and_named(
    handler, sessionmaker, world, monkeypatch
):
    async def cannot_apply(session, device, dc, confirmed):
        raise KeyError("rev_customer_id")  # an effect with a bug in it

    monkeypatch.setitem(SPECS, "archive", dataclasses.replace(SPECS["archive"], apply=cannot_apply))
    (message, *_) = await add_bulk_change(sessionmaker, world, "archive", devices=world.devices[:1])
    await handler(message)  # returns: acked, not redelivered to the limit
    async with sessionmaker() as s:
        change = await s.get(DeviceChange, message.device_change_id)
    assert change.status == "Failed" and change.error_code == "OutcomeNotRecorded"
    assert "KeyError" in change.error_message
