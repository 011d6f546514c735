"""Reconcile stored callbacks in the background, in batches, after their carrier got its 2xx.

A stored callback is safe: if this process dies before reconciling it, the sweeper does
(:func:`sweep`). Failures are logged, never dropped silently: a batch that fails is split in
halves until the callback that fails is alone; that one stays unprocessed for the sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import defaultdict
from collections.abc import Iterable

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.callbacks import (
    Stored,
    Swept,
    lock_request,
    lock_requests_shared,
    reconcile_callbacks,
    reconcile_swept,
)
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.logging import bound
from devicebulk_common.reconciliation import count_tries

log = structlog.get_logger(__name__)

BATCH_SIZE = Histogram(
    "callbacks_reconcile_batch_size",
    "Stored callbacks reconciled by one transaction",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
)
FAILED = Counter(
    "callbacks_reconcile_failed_total", "Stored callbacks left to the sweeper after an error"
)


class Reconciler:
    """One background loop: takes what was stored since its last pass (waiting ``wait_s`` for
    more, up to ``max_size`` callbacks) and reconciles it in one transaction, holding the
    shared lock of each request (the worker recording a request id holds it exclusively)."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, max_size: int, wait_s: float
    ) -> None:
        self._sessionmaker = sessionmaker
        self._max_size = max(1, max_size)
        self._wait_s = wait_s
        self._pending: dict[int, str] = {}  # callback id -> request id
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def submit(self, stored: Iterable[Stored]) -> None:
        for s in stored:
            self._pending[s.id] = s.request_id
        if self._pending:
            self._idle.clear()
            self._wake.set()

    async def settled(self) -> None:
        """Returns once everything submitted so far has been reconciled (or left to the sweeper)."""
        await self._idle.wait()

    async def close(self) -> None:
        """Reconcile what is pending, then stop."""
        if self._task is None:
            return
        self._closing.set()
        settled = asyncio.ensure_future(self.settled())
        await asyncio.wait([settled, self._task], return_when=asyncio.FIRST_COMPLETED)
        settled.cancel()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        if self._pending:  # the loop had died: nothing lost, the sweeper has them
            log.error("callbacks left unreconciled at shutdown", count=len(self._pending))

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Let a few store batches gather: fewer, larger transactions cost less per callback.
            if len(self._pending) < self._max_size and not self._closing.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), self._wait_s)
            while self._pending:
                batch = dict(itertools.islice(self._pending.items(), self._max_size))
                for callback_id in batch:
                    del self._pending[callback_id]
                await self._reconcile(batch)
            self._idle.set()

    async def _reconcile(self, batch: dict[int, str]) -> None:
        BATCH_SIZE.observe(len(batch))
        try:
            async with unit_of_work(self._sessionmaker) as session:
                await lock_requests_shared(session, batch.values())
                await reconcile_callbacks(session, sorted(batch))
        except Exception as exc:
            if len(batch) > 1:
                log.warning(
                    "reconciling a batch failed; splitting it", size=len(batch), error=repr(exc)
                )
                items = sorted(batch.items())
                half = len(items) // 2
                await self._reconcile(dict(items[:half]))
                await self._reconcile(dict(items[half:]))
                return
            FAILED.inc()
            ((callback_id, request_id),) = batch.items()
            log.exception(
                "reconciling a stored callback failed; the sweeper retries it",
                callback_id=callback_id,
                request_id=request_id,
            )


# ---- the sweeper --------------------------------------------------------------------------------

# Passes over a callback that stays unreconciled before it is given up. Each waits twice as long
# as the one before (the n-th comes ``older_than_s * 2**(n-1)`` after the callback): at the
# default 10 s interval the last is 21 minutes after it came, past the watchdog's 15.
SWEEP_MAX_TRIES = 8
SWEEP_LIMIT = 500

GAVE_UP = Counter(
    "callbacks_sweep_gave_up_total", "Stored callbacks the sweeper gave up on after its tries"
)

# Oldest first, along the partial index of the unprocessed (``ix_carrier_callback_unprocessed``).
_DUE = text(
    """
    SELECT id, service_provider_id, request_id FROM carrier_callback
    WHERE processed_at IS NULL AND request_id IS NOT NULL
      AND received_at < now() - make_interval(secs => :older_than_s * power(2, reconcile_tries))
    ORDER BY received_at, id
    LIMIT :limit
    """
)


async def sweep(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    older_than_s: float,
    max_tries: int = SWEEP_MAX_TRIES,
    limit: int = SWEEP_LIMIT,
) -> int:
    """Reconcile stored callbacks still unprocessed, whether or not a device change recorded
    their request id (see ``devicebulk_common.callback_matching``). Each request is its own
    transaction: one that fails is logged and counted as a try of its callbacks, and the pass
    goes on. Returns how many callbacks found their device change (or were moot)."""
    async with sessionmaker() as session:
        due = (await session.execute(_DUE, {"older_than_s": older_than_s, "limit": limit})).all()
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for row in due:
        groups[(row.service_provider_id, row.request_id)].append(row.id)
    applied = 0
    for (provider_id, request_id), callback_ids in groups.items():
        with bound(carrier_request_id=request_id):
            applied += await _sweep_request(
                sessionmaker, provider_id, request_id, callback_ids, max_tries
            )
    if applied:
        log.info("sweeper reconciled callbacks", count=applied)
    return applied


async def _sweep_request(
    sessionmaker: async_sessionmaker[AsyncSession],
    provider_id: int,
    request_id: str,
    callback_ids: list[int],
    max_tries: int,
) -> int:
    try:
        async with unit_of_work(sessionmaker) as session:
            await lock_request(session, request_id)
            swept = await reconcile_swept(session, callback_ids)
            gave_up = await count_tries(session, swept.waiting, max_tries=max_tries)
    except Exception as exc:
        log.exception(
            "sweeping a request's callbacks failed; the next pass tries again",
            provider=provider_id,
        )
        why = f"reconciling failed: {exc!r}"[:500]
        try:
            async with unit_of_work(sessionmaker) as session:
                gave_up = await count_tries(
                    session, dict.fromkeys(callback_ids, why), max_tries=max_tries
                )
        except Exception:
            log.exception("counting a failed sweep failed", provider=provider_id)
            return 0
        swept = Swept(0, {})
    if gave_up:
        GAVE_UP.inc(len(gave_up))
        log.error(
            "gave up on stored callbacks after their tries",
            provider=provider_id,
            callback_ids=gave_up,
            tries=max_tries,
        )
    return swept.applied
