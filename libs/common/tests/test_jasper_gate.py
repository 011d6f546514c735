"""One call at a time per carrier account across processes: PostgreSQL advisory locks."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from devicebulk_common.carriers.jasper import LocalGate, SharedGate
from devicebulk_common.carriers.rate_limit import BudgetDeferred
from devicebulk_common.db.engine import create_engine


async def test_a_gate_held_by_another_process_defers_after_the_wait(database_url):
    key = f"acct-{uuid.uuid4()}"
    first_engine = create_engine(database_url, pool_size=2)
    second_engine = create_engine(database_url, pool_size=2)
    first = SharedGate(first_engine, key, 1, max_wait_s=5)
    second = SharedGate(second_engine, key, 1, max_wait_s=0.3)
    other_account = SharedGate(second_engine, f"acct-{uuid.uuid4()}", 1, max_wait_s=0.3)
    try:
        async with first():
            with pytest.raises(BudgetDeferred):
                async with second():
                    raise AssertionError("entered a gate another process holds")
            async with other_account():  # another account is not held up
                pass
        async with second():  # free again once the first call is done
            pass
    finally:
        await first_engine.dispose()
        await second_engine.dispose()


async def test_concurrency_slots_bound_calls_in_flight_across_processes(database_url):
    key = f"acct-{uuid.uuid4()}"
    engines = [create_engine(database_url, pool_size=4) for _ in range(2)]
    gates = [SharedGate(engine, key, 2, max_wait_s=10) for engine in engines]
    in_flight = 0
    most = 0

    async def call(gate: SharedGate) -> None:
        nonlocal in_flight, most
        async with gate():
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1

    try:
        await asyncio.gather(*(call(gates[n % 2]) for n in range(10)))
    finally:
        for engine in engines:
            await engine.dispose()

    assert most == 2


async def test_a_local_gate_defers_past_its_wait():
    gate = LocalGate(1, max_wait_s=0.05)
    async with gate():
        with pytest.raises(BudgetDeferred):
            async with gate():
                pass
