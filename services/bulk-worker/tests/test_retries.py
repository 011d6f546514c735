"""Transient carrier failures are retried through the delay queues; permanent ones fail at once;
the last attempt fails the device and dead-letters its message."""

from __future__ import annotations

import asyncio

from worker_helpers import add_bulk_change, outbox_for

from devicebulk_common.models import DeviceChange
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.handler import DeviceChangeHandler
from devicebulk_worker.retry import RetryPolicy


async def _faults(carrier, **faults) -> None:
    r = await carrier.http.put(f"/_sim/accounts/{carrier.account}/faults", json=faults)
    r.raise_for_status()


async def _change(sessionmaker, message):
    async with sessionmaker() as s:
        return await s.get(DeviceChange, message.device_change_id)


async def test_a_5xx_schedules_a_retry_and_the_retry_succeeds(
    handler, world, carrier, sessionmaker
):
    (message,) = await add_bulk_change(sessionmaker, world, "activate", devices=world.devices[:1])
    await _faults(carrier, error_rate=1.0)
    await handler(message)
    change = await _change(sessionmaker, message)
    assert change.status == "Retry" and change.attempts == 1 and change.error_code
    (retry,) = await outbox_for(sessionmaker, change.id)
    assert retry.exchange == "devicebulk.retry" and retry.routing_key == "retry.1"
    assert 1000 <= retry.expiration_ms <= 3000  # 2 s +/- 25 % jitter
    await _faults(carrier)  # the carrier recovers
    await handler(message)  # the delayed message comes back
    change = await _change(sessionmaker, message)
    assert change.status == "AwaitingCallback" and change.attempts == 2


async def test_the_last_attempt_fails_with_the_reason_and_dead_letters(
    sessionmaker, credentials_key, world, carrier
):
    adapters = AdapterPool(credentials_key=credentials_key, timeout_s=5.0)
    handler = DeviceChangeHandler(
        sessionmaker, adapters, RetryPolicy(max_attempts=2, base_delay_s=0.1)
    )
    (message,) = await add_bulk_change(sessionmaker, world, "suspend", devices=world.devices[:1])
    await _faults(carrier, error_rate=1.0)
    try:
        await handler(message)
        await handler(message)
        await handler(message)  # a late duplicate of the retry changes nothing
    finally:
        await adapters.aclose()
    change = await _change(sessionmaker, message)
    assert change.status == "Failed" and change.attempts == 2
    assert "gave up after 2 attempts" in change.error_message
    sent = await outbox_for(sessionmaker, change.id)
    assert [(m.exchange, m.routing_key) for m in sent] == [
        ("devicebulk.retry", "retry.1"),
        ("devicebulk.dead-letter", "device_change.dead"),
    ]


async def test_a_permanent_error_fails_at_once_without_retry(
    handler, factory, world, carrier, sessionmaker
):
    from worker_helpers import credentials

    world.provider = await factory.provider(
        account_name="NOT-THIS-ACCOUNT",
        base_url=f"{carrier.url}/api",
        credentials=credentials(carrier.account),
    )
    (message,) = await add_bulk_change(sessionmaker, world, "suspend", devices=world.devices[:1])
    await handler(message)
    change = await _change(sessionmaker, message)
    assert change.status == "Failed" and change.attempts == 1
    assert change.error_code.endswith("AccountNotFound")
    assert await outbox_for(sessionmaker, change.id) == []


async def test_a_message_does_not_wait_long_for_budget_it_is_deferred(
    sessionmaker, credentials_key, engine, factory, world, carrier
):
    from worker_helpers import credentials

    from devicebulk_common.carriers.rate_limit import RateLimiter

    world.provider = await factory.provider(
        account_name=carrier.account,
        base_url=f"{carrier.url}/api",
        credentials=credentials(carrier.account),
        rate_limit_per_minute=60,  # one a second
    )
    adapters = AdapterPool(
        credentials_key=credentials_key,
        timeout_s=5.0,
        rate_limiter=RateLimiter(engine),
        rate_headroom=1.0,
        rate_max_wait_s=1.5,
    )
    handler = DeviceChangeHandler(sessionmaker, adapters, batch_max=1)  # a request each
    messages = await add_bulk_change(sessionmaker, world, "suspend", devices=world.devices[:2])
    try:
        # The login takes the first slot, one device the next; the other device's slot is two
        # ahead, more than it may wait.
        await asyncio.gather(*(handler(m) for m in messages))
    finally:
        await adapters.aclose()
    changes = [await _change(sessionmaker, m) for m in messages]
    assert sorted(dc.status for dc in changes) == ["AwaitingCallback", "Retry"]
    (deferred,) = [dc for dc in changes if dc.status == "Retry"]
    assert deferred.attempts == 0  # no attempt was spent
    (retry,) = await outbox_for(sessionmaker, deferred.id)
    assert retry.exchange == "devicebulk.retry" and 1_500 <= retry.expiration_ms <= 3_500


async def test_a_request_whose_answer_was_lost_is_checked_not_sent_again(
    sessionmaker, credentials_key, world, carrier
):
    """The carrier carried out the activation but its answer never came (client timeout): the
    retry asks the carrier's device list first, finds it under way, and sends nothing."""
    activate = "POST /api/m2m/v1/devices/actions/activate"
    adapters = AdapterPool(credentials_key=credentials_key, timeout_s=0.5)
    handler = DeviceChangeHandler(sessionmaker, adapters)
    (message,) = await add_bulk_change(sessionmaker, world, "activate", devices=world.devices[:1])
    await _faults(carrier, lost_answer_rate=1.0, timeout_s=1.0, callback_delay_s=30)
    before = await carrier.calls(activate)  # the simulator's count, other tests' calls included
    try:
        await handler(message)
        change = await _change(sessionmaker, message)
        assert change.status == "Retry" and change.error_code == "Timeout"
        for _ in range(50):  # the simulator logs the call once its late 504 is out
            if await carrier.calls(activate) > before:
                break
            await asyncio.sleep(0.1)
        assert await carrier.calls(activate) == before + 1
        await _faults(carrier, callback_delay_s=30)  # answers come back; callbacks still late
        await handler(message)  # the delayed retry
    finally:
        await adapters.aclose()
    change = await _change(sessionmaker, message)
    assert await carrier.calls(activate) == before + 1  # not sent a second time
    assert change.status == "AwaitingCallback" and change.attempts == 2
