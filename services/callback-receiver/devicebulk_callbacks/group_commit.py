"""Group commit: the callbacks that arrive within a short window are stored together.

Each request waits for its own callback's commit, so a 2xx still means stored. One statement
and one commit for the whole batch replaces one transaction per callback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg
import structlog
from prometheus_client import Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.callbacks import Received, Stored, store_many
from devicebulk_common.db.engine import unit_of_work

log = structlog.get_logger(__name__)

BATCH_SIZE = Histogram(
    "callbacks_store_batch_size",
    "Callbacks stored by one commit",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)

StoreFn = Callable[[AsyncSession, Sequence[Received]], Awaitable[list[Stored]]]


class StoreFailed(Exception):
    """The callback could not be stored: the carrier should send it again."""


class Unstorable(StoreFailed):
    """The database refuses the callback itself (a data exception, SQLSTATE class 22): sending
    it again can never succeed."""


def _refused_as_data(exc: BaseException) -> bool:
    """A data exception anywhere in the chain SQLAlchemy and asyncpg wrap it in."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, asyncpg.exceptions.DataError):  # an argument it cannot encode
            return True
        if str(getattr(seen, "sqlstate", "") or "").startswith("22"):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


@dataclass
class _Pending:
    received: Received
    future: asyncio.Future[Stored]


class GroupCommit:
    """Collects callbacks for up to ``wait_s`` after the first (or until ``max_size``), stores
    them with :func:`store_many` in one transaction, then answers each waiting caller and hands
    the stored callbacks to ``on_stored``.

    Batches are stored concurrently (bounded by the database pool). A batch that fails is
    stored again one callback at a time, so one callback the database refuses does not fail
    its neighbours; whatever still fails gets :class:`StoreFailed`.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        wait_s: float,
        max_size: int,
        on_stored: Callable[[Sequence[Stored]], None],
        store: StoreFn = store_many,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._wait_s = wait_s
        self._max_size = max(1, max_size)
        self._on_stored = on_stored
        self.store = store  # the batch's one statement (tests replace it)
        self._pending: list[_Pending] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushes: set[asyncio.Task[None]] = set()

    async def submit(self, received: Received) -> Stored:
        """Store one callback with whatever else arrives in the window; returns once committed."""
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)  # a failure nobody waits for any more is logged
        self._pending.append(_Pending(received, future))
        if len(self._pending) >= self._max_size:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._wait_s, self._flush)
        # Shielded: a caller that goes away does not cancel its neighbours' commit.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Store what is pending now and wait for every batch under way."""
        self._flush()
        while self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._pending:
            batch = self._pending[: self._max_size]
            del self._pending[: self._max_size]
            task = asyncio.get_running_loop().create_task(self._store_batch(batch))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _store_batch(self, batch: list[_Pending], *, split: bool = True) -> None:
        BATCH_SIZE.observe(len(batch))
        try:
            stored = await self._commit([p.received for p in batch])
        except Exception as exc:
            if split and len(batch) > 1:
                log.warning(
                    "storing a batch of callbacks failed; storing them one by one",
                    size=len(batch),
                    exc_info=True,
                )
                await asyncio.gather(*(self._store_batch([p], split=False) for p in batch))
            else:
                # One line per callback after a split (the batch's traceback is logged above).
                log.warning(
                    "storing a callback failed; the carrier is asked to send it again",
                    request_ids=sorted({p.received.parsed.request_id for p in batch}),
                    error=repr(exc),
                    exc_info=split,
                )
                failure = Unstorable if _refused_as_data(exc) else StoreFailed
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(failure())
            return
        for pending, result in zip(batch, stored, strict=True):
            if not pending.future.done():
                pending.future.set_result(result)
        try:
            self._on_stored(stored)
        except Exception:  # stored: the sweeper reconciles them
            log.exception("handing stored callbacks on failed", size=len(stored))

    async def _commit(self, received: list[Received]) -> list[Stored]:
        async with unit_of_work(self._sessionmaker) as session:
            return await self.store(session, received)


def _retrieve(future: asyncio.Future[Stored]) -> None:
    if not future.cancelled():
        future.exception()
