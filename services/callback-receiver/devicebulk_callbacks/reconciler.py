"""Reconcile stored callbacks in the background, in batches, after their carrier got its 2xx.

A stored callback is safe: if this process dies before reconciling it, the sweeper does (see
``intake.sweep``). Failures are logged, never dropped silently: a batch that fails is split in
halves until the callback that fails is alone; that one stays unprocessed for the sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterable

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.callbacks import Stored, lock_requests_shared, reconcile_callbacks
from devicebulk_common.db.engine import unit_of_work

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
