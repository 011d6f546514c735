"""Calls in flight per carrier account: Control Center takes one call at a time per account.

A gate is entered around every call (`async with gate(): ...`). `LocalGate` bounds the calls
of one process; `SharedGate` bounds them across every worker process too, with PostgreSQL
advisory locks held for the length of the call (one transaction per call, one lock per slot).
Waiting is bounded: a gate that cannot be had within `max_wait_s` raises `BudgetDeferred`, as
the rate limiter does, so a message is deferred rather than held past the broker's ack timeout.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..rate_limit import BudgetDeferred

Gate = Callable[[], AbstractAsyncContextManager[None]]

LOCK_NOT_AVAILABLE = "55P03"
_TRY = text("SELECT pg_try_advisory_xact_lock(hashtext(:key), :slot)")
_WAIT = text("SELECT pg_advisory_xact_lock(hashtext(:key), :slot)")


class LocalGate:
    """At most `limit` calls at once in this process."""

    def __init__(self, limit: int = 1, *, max_wait_s: float = 20.0) -> None:
        self._semaphore = asyncio.Semaphore(limit)
        self._max_wait_s = max_wait_s

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self._max_wait_s)
        except TimeoutError as exc:
            raise BudgetDeferred(self._max_wait_s) from exc
        try:
            yield
        finally:
            self._semaphore.release()


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(
        getattr(orig, "__cause__", None), "sqlstate", None
    )


class SharedGate:
    """At most `limit` calls at once for `key` across every process sharing the database."""

    def __init__(
        self, engine: AsyncEngine, key: str, limit: int = 1, *, max_wait_s: float = 20.0
    ) -> None:
        self._engine = engine
        self._key = f"gate:{key}"
        self._limit = limit
        self._max_wait_s = max_wait_s
        self._local = LocalGate(limit, max_wait_s=max_wait_s)

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        async with self._local(), self._engine.connect() as conn, conn.begin():
            slot = await self._take_slot(conn)
            if slot is None:
                raise BudgetDeferred(self._max_wait_s)
            yield  # the transaction (and its advisory lock) ends when the call is done

    async def _take_slot(self, conn: AsyncConnection) -> int | None:
        params = {"key": self._key}
        for slot in range(self._limit):
            if (await conn.execute(_TRY, {**params, "slot": slot})).scalar():
                return slot
        slot = random.randrange(self._limit)
        timeout_ms = max(1, int(self._max_wait_s * 1000))
        await conn.execute(text(f"SET LOCAL lock_timeout = {timeout_ms}"))
        try:
            await conn.execute(_WAIT, {**params, "slot": slot})
        except DBAPIError as exc:
            if _sqlstate(exc) == LOCK_NOT_AVAILABLE:
                return None
            raise
        return slot


def local_gate(limit: int = 1, *, max_wait_s: float = 20.0) -> Gate:
    return LocalGate(limit, max_wait_s=max_wait_s)
