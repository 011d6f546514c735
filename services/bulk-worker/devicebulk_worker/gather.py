"""Gathers device messages into batches: bounded size, bounded wait.

Each message's handler submits its device change id and waits; the batch is run when it holds
``max_size`` ids or ``max_wait_s`` after its first id arrived, whichever comes first. A
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
    def __init__(self, run: RunBatch, *, max_size: int, max_wait_s: float) -> None:
        assert max_size >= 1
        self._run = run
        self._max_size = max_size
        self._max_wait_s = max_wait_s
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, device_change_id: int) -> None:
        """Wait until this device change's outcome is recorded (raises if it could not be)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(device_change_id, []).append(future)
        if len(self._waiting) >= self._max_size:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._max_wait_s, self._flush)
        await future

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
