"""Gathers device messages into batches: bounded size, bounded wait.

Each message's handler submits its device change id and waits; the batch is run when it holds
``max_size`` ids, when no id has arrived for ``quiet_s`` (the stream paused: nothing gains by
waiting), or ``max_wait_s`` after its first id arrived, whichever comes first. So a steady
stream of a large bulk change fills big batches, and a lone device waits only ``quiet_s``. A
message is acked only after its own device change's outcome committed, so a crash loses
nothing: the unacked messages of the batch are delivered again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

# Runs one batch; returns the ids whose outcome could not be recorded (their messages are
# requeued), with the reason.
RunBatch = Callable[[list[int]], Awaitable[dict[int, BaseException]]]


class Gatherer:
    def __init__(
        self, run: RunBatch, *, max_size: int, max_wait_s: float, quiet_s: float | None = None
    ) -> None:
        assert max_size >= 1
        self._run = run
        self._max_size = max_size
        self._max_wait_s = max_wait_s
        self._quiet_s = max_wait_s if quiet_s is None else min(quiet_s, max_wait_s)
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0  # the batch's first arrival + max_wait_s
        self._last = 0.0  # the latest arrival
        self._scheduled = 0.0  # when the timer was asked to fire
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, device_change_id: int) -> None:
        """Wait until this device change's outcome is recorded (raises if it could not be)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.setdefault(device_change_id, []).append(future)
        self._last = loop.time()
        if len(self._waiting) >= self._max_size:
            self._flush()
        elif self._timer is None:
            self._deadline = self._last + self._max_wait_s
            self._scheduled = self._last + self._quiet_s
            self._timer = loop.call_at(self._scheduled, self._tick)
        await future

    def _tick(self) -> None:
        """Flush if the stream paused or the batch is old enough; else look again later (one
        timer a batch, not one a message).

        A tick that comes late means the event loop was busy (a batch being recorded): the
        messages that arrived meanwhile may not have reached :meth:`submit` yet, so the gap is
        not taken for a pause until one more quiet period has been watched."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = min(self._deadline, self._last + self._quiet_s)
        late = now - self._scheduled > self._quiet_s / 2
        if now >= self._deadline or (now >= due and not late):
            self._flush()
            return
        self._scheduled = min(self._deadline, max(due, now + self._quiet_s) if late else due)
        self._timer = loop.call_at(self._scheduled, self._tick)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, {}
        if not batch:
            return
        task = asyncio.create_task(self._run_batch(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run_batch(self, batch: dict[int, list[asyncio.Future[None]]]) -> None:
        try:
            failed = await self._run(list(batch))
        except Exception as exc:
            log.exception("batch failed; its messages will be delivered again", size=len(batch))
            failed = dict.fromkeys(batch, exc)
        for device_change_id, futures in batch.items():
            for future in futures:
                if future.done():
                    continue
                if device_change_id in failed:
                    future.set_exception(failed[device_change_id])
                else:
                    future.set_result(None)
