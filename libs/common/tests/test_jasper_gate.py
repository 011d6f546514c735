"""One call at a time and calls spaced by real send times, per carrier account, across processes
(each "process" here is a gate with its own engine): leases in `carrier_call_gate` rows."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from devicebulk_common.carriers.jasper import LocalGate, SharedGate
from devicebulk_common.carriers.rate_limit import BudgetDeferred
from devicebulk_common.db.engine import create_engine


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[list[AsyncEngine]]:
    made = [create_engine(database_url, pool_size=2, max_overflow=0) for _ in range(2)]
    yield made
    for engine in made:
        await engine.dispose()


def _key() -> str:
    return f"jasper:test:{uuid.uuid4()}"


async def test_two_processes_never_have_two_calls_in_flight(engines):
    key = _key()
    gates = [SharedGate(engine, key, 1, interval_s=0.01, max_wait_s=30) for engine in engines]
    in_flight = most = calls = 0

    async def call(gate: SharedGate) -> None:
        nonlocal in_flight, most, calls
        async with gate() as slot:
            await slot.ready()
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.03)  # longer than the interval: only the lease keeps them apart
            in_flight -= 1
            calls += 1

    await asyncio.gather(*(call(gates[n % 2]) for n in range(12)))

    assert (calls, most) == (12, 1)


async def test_sends_are_spaced_by_the_interval_even_after_a_late_one(engines):
    key = _key()
    interval = 0.1
    gates = [SharedGate(engine, key, 1, interval_s=interval, max_wait_s=30) for engine in engines]
    sent: list[float] = []
    loop = asyncio.get_running_loop()

    async def call(gate: SharedGate, late: bool) -> None:
        async with gate() as slot:
            if late:  # held up after taking the slot: the call goes out past its planned time
                await asyncio.sleep(0.15)
            await slot.ready()
            sent.append(loop.time())

    await asyncio.gather(*(call(gates[n % 2], late=n % 3 == 0) for n in range(9)))

    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert len(sent) == 9
    assert min(gaps) >= interval - 0.002, gaps


async def test_a_call_waits_a_window_after_the_answer_to_the_cap_th_call_before_it(engines):
    """The carrier counts a call when it receives it, somewhere between our send and its
    answer: two calls a 0.3 s window, whatever the calls' length."""
    key = _key()
    gates = [
        SharedGate(engine, key, 1, interval_s=0.01, per_window=2, window_s=0.3, max_wait_s=30)
        for engine in engines
    ]
    sent: list[float] = []
    answered: list[float] = []
    loop = asyncio.get_running_loop()

    async def call(gate: SharedGate, length_s: float) -> None:
        async with gate() as slot:
            await slot.ready()
            sent.append(loop.time())
            await asyncio.sleep(length_s)
            answered.append(loop.time())

    await asyncio.gather(*(call(gates[n % 2], 0.02 + 0.1 * (n % 3 == 0)) for n in range(8)))

    assert len(sent) == 8
    assert min(b - a for a, b in zip(answered, sent[2:], strict=False)) >= 0.3 - 0.002


async def test_a_dead_holders_lease_expires_and_its_slot_is_taken(engines):
    key = _key()
    dead = SharedGate(engines[0], key, 1, hold_s=0.5, max_wait_s=5)
    alive = SharedGate(engines[1], key, 1, max_wait_s=5)
    holding = dead()
    await holding.__aenter__()  # taken, never let go: its process was killed

    async with alive() as slot:
        await slot.ready()
        holder = await _holder(engines[1], key)

    assert holder is not None
    assert holder.startswith(alive._me)


async def _holder(engine: AsyncEngine, key: str) -> str | None:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text("SELECT holder FROM carrier_call_gate WHERE key = :key AND slot = 0"),
                {"key": f"gate:{key}"},
            )
        ).scalar()


async def test_no_connection_is_held_during_a_call(database_url):
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=3)
    gate = SharedGate(engine, _key(), 1, interval_s=0.05, max_wait_s=5)
    try:
        async with gate() as slot:
            await slot.ready()
            async with engine.connect() as conn:  # the call records something meanwhile
                assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        async with gate() as slot:  # and the slot was let go
            await slot.ready()
    finally:
        await engine.dispose()


async def test_a_gate_held_by_another_process_defers_after_the_wait(engines):
    key = _key()
    first = SharedGate(engines[0], key, 1, max_wait_s=5)
    second = SharedGate(engines[1], key, 1, max_wait_s=0.3)
    other_account = SharedGate(engines[1], _key(), 1, max_wait_s=0.3)
    async with first() as slot:
        await slot.ready()
        with pytest.raises(BudgetDeferred):
            async with second():
                raise AssertionError("entered a gate another process holds")
        async with other_account():  # another account is not held up
            pass
    async with second():  # free again once the first call is done
        pass


async def test_concurrency_slots_bound_calls_in_flight_across_processes(engines):
    key = _key()
    gates = [SharedGate(engine, key, 2, max_wait_s=10) for engine in engines]
    in_flight = most = 0

    async def call(gate: SharedGate) -> None:
        nonlocal in_flight, most
        async with gate() as slot:
            await slot.ready()
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1

    await asyncio.gather(*(call(gates[n % 2]) for n in range(10)))

    assert most == 2


async def test_a_local_gate_defers_past_its_wait():
    gate = LocalGate(1, max_wait_s=0.05)
    async with gate():
        with pytest.raises(BudgetDeferred):
            async with gate():
                pass
