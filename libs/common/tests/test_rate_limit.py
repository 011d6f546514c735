"""One rate limit per carrier account across processes (GCRA on PostgreSQL), against the
simulator's own per-minute budget."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import httpx
import pytest
from sim_account import sim_account

from devicebulk_common.carriers import DeviceRef, InProcessTokenCache, ThingSpaceAdapter
from devicebulk_common.carriers.rate_limit import BudgetDeferred, Pacer, RateLimiter
from devicebulk_common.db.engine import create_engine

PER_MINUTE = 600  # 10 a second, so the test takes seconds, not minutes


@pytest.fixture
async def limited_account():
    async with sim_account(5, {"rate_limit_per_minute": PER_MINUTE}) as account:
        yield account


async def test_processes_together_stay_under_the_account_budget(database_url, limited_account):
    url, name, creds, devices, admin = limited_account
    key = f"thingspace:{url}:{name}:{uuid.uuid4()}"
    engines, clients, adapters = [], [], []
    for _ in range(2):  # two worker processes, each with its own engine and limiter
        engine = create_engine(database_url, pool_size=3)
        http = httpx.AsyncClient(timeout=30)
        pacer = Pacer(RateLimiter(engine), key=key, per_minute=PER_MINUTE * 0.98, max_wait_s=60)
        adapters.append(
            ThingSpaceAdapter(
                http,
                base_url=f"{url}/api",
                account_name=name,
                token_cache=InProcessTokenCache(),
                pacer=pacer,
                **creds,
            )
        )
        engines.append(engine)
        clients.append(http)
    try:
        await asyncio.gather(
            *(a.suspend([DeviceRef(iccid=devices[i % 5])]) for a in adapters for i in range(30))
        )
    finally:
        for http in clients:
            await http.aclose()
        for engine in engines:
            await engine.dispose()
    stats = (await admin.get("/_sim/stats")).json()
    assert stats["rate_limited"] == 0
    assert stats["by_endpoint"]["POST /api/m2m/v1/devices/actions/suspend"] == 60
    calls = (
        await admin.get("/_sim/calls", params={"path": "/api/m2m/v1/devices/actions/suspend"})
    ).json()["calls"]
    times = sorted(datetime.fromisoformat(c["timestamp"]).timestamp() for c in calls)
    # Paced, not bursted: any 3 s hold about 3 s of budget (30). Slack of 3 for arrival jitter
    # on a loaded machine; unpaced, all 60 arrive within the first second.
    window = 3.0
    busiest = max(sum(1 for t in times if start <= t < start + window) for start in times)
    assert busiest <= PER_MINUTE / 60 * window + 3


async def test_a_slot_too_far_ahead_is_deferred_not_waited_for(engine):
    limiter = RateLimiter(engine)
    key = f"defer:{uuid.uuid4()}"
    assert await limiter.reserve(key, 6, max_wait_s=1) == 0  # one every 10 s: the first goes now
    with pytest.raises(BudgetDeferred) as deferred:
        await limiter.reserve(key, 6, max_wait_s=1)
    assert 8 <= deferred.value.wait_s <= 10
    assert 8 <= await limiter.reserve(key, 6, max_wait_s=15) <= 10  # a patient caller books it
