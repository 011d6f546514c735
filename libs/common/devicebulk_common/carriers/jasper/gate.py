"""Calls in flight and their pace per carrier account: Control Center takes one call at a time
per account and a calls-per-second cap, both counted over every process that uses the account.

A gate is entered around every call::

    async with gate() as slot:
        ...              # anything to do before sending (the refused-key check)
        await slot.ready()   # sleeps until the call may be sent, and marks it sent
        ...              # send

`LocalGate` bounds the calls of one process (no pacing). `SharedGate` does both jobs for every
process sharing the database:

- **one call at a time** (`concurrency` slots): a slot is a lease in a `carrier_call_gate` row
  (holder, held until the planned send time + the HTTP timeout + a margin), taken and released in
  short transactions. No database connection is held during the call, and a killed holder's
  slot frees itself when its lease runs out.
- **pacing by real send times**: the account's next call is sent no earlier than `interval_s`
  after the latest call was *actually* sent (the slot's `sent_at`: planned when the lease is
  taken, corrected to the real send time when it is let go). With `interval_s = 1 / (cap x
  headroom)`, any one-second window holds at most `cap` of our sends, however late one of them
  went out: a late call pushes the next one back instead of squeezing the gap to it.

Why not the GCRA `Pacer` (`carriers/rate_limit.py`) here too: it books slots on a timeline, so a
call sent late (a busy event loop, a slow lock) still leaves the next booked slot where it was,
and the carrier's one-second window sees two calls closer than the interval; measured against
jasper-sim that provoked a few `40000029` a run. ThingSpace keeps the `Pacer`: its budget is per
minute and many calls may be in flight, so booking ahead is what lets several processes share it
without a round trip per call, and a late call moves a minute's count by nothing.

Waiting is by sleeping until the known next time (the latest send plus the interval, less a
short lead to take the slot), polling briefly only while a slot is held by a call in flight. The
process that sent the latest call takes the next slot a little later than the others, so
processes take turns instead of one of them keeping the account. Waiting is bounded: a gate that
cannot be had within `max_wait_s` raises `BudgetDeferred`, as the rate limiter does, so a message
is never held past the broker's ack timeout. A `LocalGate` in front lets one coroutine of a
process (per slot) compete for the shared slots.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ..rate_limit import BudgetDeferred

log = structlog.get_logger(__name__)


class Slot(Protocol):
    async def ready(self) -> None:
        """Sleep until the call may be sent; the call is taken as sent when this returns."""


Gate = Callable[[], AbstractAsyncContextManager[Slot]]


class _Unpaced:
    async def ready(self) -> None:
        return None


_UNPACED = _Unpaced()


class LocalGate:
    """At most `limit` calls at once in this process (no pacing)."""

    def __init__(self, limit: int = 1, *, max_wait_s: float = 20.0) -> None:
        self._semaphore = asyncio.Semaphore(limit)
        self._max_wait_s = max_wait_s

    async def acquire(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self._semaphore.acquire(), max(0.0, timeout_s))
        except TimeoutError as exc:
            raise BudgetDeferred(self._max_wait_s) from exc

    def release(self) -> None:
        self._semaphore.release()

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Slot]:
        await self.acquire(self._max_wait_s)
        try:
            yield _UNPACED
        finally:
            self.release()


_ENSURE = text(
    "INSERT INTO carrier_call_gate (key, slot) SELECT :key, n FROM generate_series(0, :last) n "
    "ON CONFLICT DO NOTHING"
)
_LOCK = text(
    "SELECT slot, holder, held_until, sent_at, answered_at, clock_timestamp() AS now "
    "FROM carrier_call_gate WHERE key = :key ORDER BY slot FOR UPDATE"
)
_TAKE = text(
    "UPDATE carrier_call_gate SET holder = :holder, held_until = :held_until, sent_at = :sent_at "
    "WHERE key = :key AND slot = :slot"
)
# The call is over: free the slot (the holder's name stays: who sent last), record when the
# call was really sent (`since` seconds ago by this process's clock; never earlier than planned)
# and add when its answer came (`answered` seconds ago) to the slot's latest `keep` answers.
_RELEASE_SENT = text(
    "UPDATE carrier_call_gate SET held_until = NULL, sent_at = GREATEST(sent_at, "
    "clock_timestamp() - make_interval(secs => :since)), "
    "answered_at = (COALESCE(answered_at, '{}') "
    "|| (clock_timestamp() - make_interval(secs => :answered)))"
    "[GREATEST(1, COALESCE(cardinality(answered_at), 0) + 2 - :keep):] "
    "WHERE key = :key AND slot = :slot AND holder = :holder"
)
_RELEASE_UNSENT = text(
    "UPDATE carrier_call_gate SET held_until = NULL "
    "WHERE key = :key AND slot = :slot AND holder = :holder"
)


@dataclass(frozen=True)
class _Decision:
    """A slot taken (`slot` set; `wait_s` until its send time) or not (`wait_s` until trying
    again)."""

    wait_s: float
    slot: int | None = None
    holder: str = ""


class _Lease:
    """A taken slot: `ready()` sleeps until its planned send time and stamps the real one."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send_at: float) -> None:
        self._loop = loop
        self._send_at = send_at
        self.sent: float | None = None

    async def ready(self) -> None:
        delay = self._send_at - self._loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        self.sent = self._loop.time()


class SharedGate:
    """At most `concurrency` calls in flight for `key` across every process sharing the
    database, each sent at least `interval_s` after the account's previous one and, with
    `per_window`, at least `window_s` after the answer to the `per_window`-th call before it."""

    def __init__(
        self,
        engine: AsyncEngine,
        key: str,
        concurrency: int = 1,
        *,
        interval_s: float = 0.0,
        per_window: int | None = None,
        window_s: float = 1.0,
        hold_s: float = 60.0,
        max_wait_s: float = 20.0,
        lead_s: float = 0.04,
        poll_s: float = 0.02,
    ) -> None:
        if concurrency < 1 or interval_s < 0 or hold_s <= 0 or (per_window or 1) < 1:
            raise ValueError("concurrency >= 1, interval_s >= 0, hold_s > 0, per_window >= 1")
        self._engine = engine
        self._key = f"gate:{key}"
        self._concurrency = concurrency
        self._interval = timedelta(seconds=interval_s)
        self._per_window = per_window
        self._window = timedelta(seconds=window_s)
        self._hold = timedelta(seconds=hold_s)
        self._max_wait_s = max_wait_s
        self._lead_s = lead_s
        self._poll_s = poll_s
        self._local = LocalGate(concurrency, max_wait_s=max_wait_s)
        self._me = f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._takes = itertools.count(1)
        self._ensured = False

    @property
    def key(self) -> str:
        return self._key

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Slot]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_wait_s
        await self._local.acquire(self._max_wait_s)
        try:
            decision, send_at = await self._wait_for_slot(loop, deadline)
            assert decision.slot is not None
            lease = _Lease(loop, send_at)
            try:
                yield lease
            finally:
                await self._release(loop, decision, lease)
        finally:
            self._local.release()

    async def _wait_for_slot(
        self, loop: asyncio.AbstractEventLoop, deadline: float
    ) -> tuple[_Decision, float]:
        """The slot taken, and when (this loop's clock) its call may be sent."""
        while True:
            decision, decided_at = await self._try_take(loop)
            if decision.slot is not None:
                return decision, decided_at + decision.wait_s
            wake = decided_at + decision.wait_s
            if wake > deadline:
                raise BudgetDeferred(max(decision.wait_s, self._max_wait_s))
            await asyncio.sleep(max(0.0, wake - loop.time()))

    async def _try_take(self, loop: asyncio.AbstractEventLoop) -> tuple[_Decision, float]:
        """A decision, and when it was made by this loop's clock (the waits count from there,
        not from the commit: the commit's round trip would make every send late)."""
        async with self._engine.begin() as conn:
            if not self._ensured:
                await conn.execute(_ENSURE, {"key": self._key, "last": self._concurrency - 1})
                self._ensured = True
            rows = (await conn.execute(_LOCK, {"key": self._key})).all()
            decided_at = loop.time()
            decision = self._decide(rows)
            if decision.slot is not None:
                now: datetime = rows[0].now
                send_at = now + timedelta(seconds=decision.wait_s)
                await conn.execute(
                    _TAKE,
                    {
                        "key": self._key,
                        "slot": decision.slot,
                        "holder": decision.holder,
                        "held_until": send_at + self._hold,
                        "sent_at": send_at,
                    },
                )
        return decision, decided_at

    def _decide(self, rows: Sequence[Any]) -> _Decision:
        """Take a free slot if the account's next send is due within the lead, else say how
        long to sleep: until that time when a slot is free or will be, briefly while all are
        held."""
        if not rows:
            self._ensured = False
            return _Decision(wait_s=0.0)
        now: datetime = rows[0].now
        held = [r for r in rows if r.held_until is not None and r.held_until > now]
        sent = [r for r in rows if r.sent_at is not None]
        latest = max(sent, key=lambda r: r.sent_at, default=None)
        next_at = now if latest is None else max(now, latest.sent_at + self._interval)
        answers = sorted(t for r in rows for t in (r.answered_at or ()))
        if self._per_window and len(answers) >= self._per_window:
            next_at = max(next_at, answers[-self._per_window] + self._window)
        due_in = (next_at - now).total_seconds()
        if len(held) >= self._concurrency:
            return _Decision(wait_s=max(self._poll_s, due_in - self._lead_s))
        # Whoever sent last lets another process go first at the next turn.
        mine_last = latest is not None and str(latest.holder or "").startswith(self._me)
        lead = self._lead_s / 2 if mine_last else self._lead_s
        if due_in > lead:
            return _Decision(wait_s=due_in - lead)
        busy = {r.slot for r in held}
        free = [r.slot for r in rows if r.slot < self._concurrency and r.slot not in busy]
        if not free:  # a slot past `concurrency` (an older setting) is held
            return _Decision(wait_s=self._poll_s)
        return _Decision(wait_s=due_in, slot=free[0], holder=f"{self._me}-{next(self._takes)}")

    async def _release(
        self, loop: asyncio.AbstractEventLoop, decision: _Decision, lease: _Lease
    ) -> None:
        answered = loop.time()  # the call is over: its answer came no later than this
        params: dict[str, Any] = {
            "key": self._key,
            "slot": decision.slot,
            "holder": decision.holder,
        }
        try:
            async with self._engine.begin() as conn:
                if lease.sent is None:
                    await conn.execute(_RELEASE_UNSENT, params)
                else:
                    now = loop.time()
                    sent = {"since": now - lease.sent, "answered": now - answered}
                    keep = {"keep": self._per_window or 1}
                    await conn.execute(_RELEASE_SENT, {**params, **sent, **keep})
        except Exception as exc:
            log.warning("carrier gate: releasing a slot failed", key=self._key, error=repr(exc))


def local_gate(limit: int = 1, *, max_wait_s: float = 20.0) -> Gate:
    return LocalGate(limit, max_wait_s=max_wait_s)
