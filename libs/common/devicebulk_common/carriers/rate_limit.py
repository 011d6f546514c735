"""One rate limit per carrier account across every worker process: GCRA on a PostgreSQL row.

Each request reserves the next slot (the row's theoretical arrival time moves one interval
on) in one UPDATE, so processes never exceed the account's budget together. A slot further
away than ``max_wait_s`` is not reserved: the caller is told how long to defer instead, so
that waiting for budget never holds a message past the broker's consumer ack timeout.

ThingSpace's accounts are paced here (a per-minute budget, many calls in flight). Control Center's
are not: its gate (`carriers/jasper/gate.py`) takes one call at a time and spaces calls by their
real send and answer times, which booked slots cannot do (a call sent late would squeeze the gap
to the next booked slot inside the carrier's one-second window).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# Reserve the next slot if it starts within max_wait; answer how long until it starts. One
# upsert, so the first requests of several processes for a new account cannot miss the row.
_RESERVE = text(
    """
    INSERT INTO carrier_rate_limit AS r (key, tat)
    VALUES (:key, clock_timestamp() + make_interval(secs => :interval))
    ON CONFLICT (key) DO UPDATE
    SET tat = GREATEST(r.tat, clock_timestamp()) + make_interval(secs => :interval)
    WHERE GREATEST(r.tat, clock_timestamp()) <= clock_timestamp() + make_interval(secs => :max_wait)
    RETURNING GREATEST(0, EXTRACT(EPOCH FROM (r.tat - clock_timestamp())) - :interval) AS wait_s
    """
)
_BACKLOG = text(
    "SELECT GREATEST(0, EXTRACT(EPOCH FROM (tat - clock_timestamp()))) FROM carrier_rate_limit "
    "WHERE key = :key"
)


class BudgetDeferred(Exception):
    """The account's budget is booked further ahead than a message may wait: come back later."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"carrier budget booked for the next {wait_s:.0f} s")
        self.wait_s = wait_s


class RateLimiter:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def reserve(self, key: str, per_minute: float, *, max_wait_s: float) -> float:
        """Seconds until this request may be sent; raises BudgetDeferred past ``max_wait_s``."""
        interval = 60.0 / per_minute
        async with self._engine.begin() as conn:
            wait = (
                await conn.execute(
                    _RESERVE, {"key": key, "interval": interval, "max_wait": max_wait_s}
                )
            ).scalar()
            if wait is None:
                backlog = (await conn.execute(_BACKLOG, {"key": key})).scalar() or 0.0
                raise BudgetDeferred(float(backlog))
        return float(wait)


@dataclass
class Pacer:
    """Awaited before every carrier call of one account: sleeps until its reserved slot."""

    limiter: RateLimiter
    key: str
    per_minute: float
    max_wait_s: float = 20.0

    async def __call__(self) -> None:
        wait = await self.limiter.reserve(self.key, self.per_minute, max_wait_s=self.max_wait_s)
        if wait > 0:
            await asyncio.sleep(wait)
