"""How much of a batch runs at once, per carrier account, in this process.

A batch is cut into units (one carrier request each, or a check, or a database-only change).
Most run at once, bounded by the process's call limit. A carrier account that takes few calls at
once (its capabilities' `rate_limit.concurrency`: Control Center, one call at a time) gets a
*lane* instead: a process-wide limit of `2 x concurrency` units of that account in flight (one
at the carrier while the previous one's outcome is recorded), worked by that many runners that
take the batch's units in order. So a batch of 1,000 one-device requests is 2 units in flight
and 998 entries in a list, not 1,000 coroutines timing out at the account's gate; the account is
kept busy without sending anything through the retry delay queues.

A unit waits for its lane at most `wait_max_s` from the batch's start; the units still waiting
then are deferred (no attempt spent) so that no message is held past the broker's consumer
timeout. The broker spreads a large bulk change over every worker process, so their lanes share
the account through its gate (`carriers/jasper/gate.py`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass

import structlog

from devicebulk_common.carriers import CarrierAdapter
from devicebulk_common.models import ServiceProvider
from devicebulk_worker.operations import Job

log = structlog.get_logger(__name__)

# Deferred units come back about this long after, or sooner when the lane's pace says so.
DEFER_MAX_S = 300.0

Defer = Callable[[list[Job], float], Awaitable[None]]
Failures = list[tuple[list[Job], BaseException]]


@dataclass(frozen=True)
class Unit:
    jobs: list[Job]
    run: Callable[[], Awaitable[None]]
    lane: Hashable | None = None


class Lanes:
    def __init__(self, *, wait_max_s: float, defer: Defer) -> None:
        self._wait_max_s = wait_max_s
        self._defer = defer
        self._limits: dict[Hashable, asyncio.Semaphore] = {}
        self._sizes: dict[Hashable, int] = {}

    def lane(self, provider: ServiceProvider, adapter: CarrierAdapter) -> Hashable | None:
        """The account's lane when it takes few calls at once, else None (no lane)."""
        concurrency = adapter.capabilities.rate_limit.concurrency
        if concurrency is None:
            return None
        key = (provider.integration, provider.base_url, provider.account_name)
        if key not in self._limits:
            self._sizes[key] = 2 * concurrency
            self._limits[key] = asyncio.Semaphore(self._sizes[key])
        return key

    async def run(self, units: Sequence[Unit]) -> Failures:
        """Run every unit; returns the units that raised, with what they raised."""
        failures: Failures = []
        queues: dict[Hashable, deque[Unit]] = {}
        direct: list[Unit] = []
        for unit in units:
            if unit.lane is None:
                direct.append(unit)
            else:
                queues.setdefault(unit.lane, deque()).append(unit)
        deadline = asyncio.get_running_loop().time() + self._wait_max_s
        runners = [
            self._runner(lane, queue, deadline, failures)
            for lane, queue in queues.items()
            for _ in range(self._sizes[lane])
        ]
        await asyncio.gather(*(self._one(u, failures) for u in direct), *runners)
        return failures

    @staticmethod
    async def _one(unit: Unit, failures: Failures) -> None:
        try:
            await unit.run()
        except Exception as exc:  # recorded by the caller (the messages come again)
            failures.append((unit.jobs, exc))

    async def _runner(
        self, lane: Hashable, queue: deque[Unit], deadline: float, failures: Failures
    ) -> None:
        loop = asyncio.get_running_loop()
        limit = self._limits[lane]
        while queue:
            left = deadline - loop.time()
            try:
                if left <= 0:  # said outright: a free lane is taken without waiting at all
                    raise TimeoutError
                await asyncio.wait_for(limit.acquire(), left)
            except TimeoutError:
                await self._defer_rest(lane, queue, failures)
                return
            try:
                if not queue:
                    return
                await self._one(queue.popleft(), failures)
            finally:
                limit.release()

    async def _defer_rest(self, lane: Hashable, queue: deque[Unit], failures: Failures) -> None:
        rest = list(queue)
        queue.clear()
        if not rest:
            return
        jobs = [job for unit in rest for job in unit.jobs]
        wait_s = min(DEFER_MAX_S, self._wait_max_s)
        log.info("account lane busy past its wait; deferring", lane=str(lane), devices=len(jobs))
        try:
            await self._defer(jobs, wait_s)
        except Exception as exc:
            failures.extend((unit.jobs, exc) for unit in rest)
