"""Missing callbacks: a device change still ``AwaitingCallback`` after the timeout is checked
against the carrier's device list. Done there → recorded as done; still under way → checked
again later, until the give-up age; not done → sent again while attempts remain, else failed.
Every worker process runs one; a device change is claimed with ``FOR UPDATE SKIP LOCKED`` and
leased (its ``updated_at`` moved on) in a short transaction, the carrier is asked with no
transaction open, and the answer is acted on only if no callback came in the meantime."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common import contracts as c
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.lifecycle import audit, finish_device_change
from devicebulk_common.models import Device, DeviceChange, ServiceProvider
from devicebulk_common.outbox.relay import notify_outbox
from devicebulk_worker import resume
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.handler import DeviceChangeHandler
from devicebulk_worker.operations import Job
from devicebulk_worker.operations.registry import job_for
from devicebulk_worker.recording import ACTOR
from devicebulk_worker.starting import job_rows

log = structlog.get_logger(__name__)


class CallbackWatchdog:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        adapters: AdapterPool,
        handler: DeviceChangeHandler,
        *,
        timeout_s: float,
        give_up_s: float,
        max_attempts: int,
        batch: int = 50,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._adapters = adapters
        self._handler = handler
        self._timeout_s = timeout_s
        self._give_up_s = give_up_s
        self._max_attempts = max_attempts
        self._batch = batch

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        while not stop.is_set():
            try:
                while await self.check_once():
                    pass
            except Exception:
                log.exception("callback watchdog failed; will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    async def check_once(self) -> int:
        """Check up to one batch of overdue device changes; returns how many were checked."""
        now = datetime.now(UTC)
        checked = 0
        for _ in range(self._batch):
            claimed = await self._claim(now)
            if claimed is None:
                return checked
            job, provider, attempts, created_at = claimed
            # No transaction is open during the carrier call: the claim is a lease.
            view = await resume.check(self._adapters.adapter(provider), job)
            await self._settle(job, view, attempts, (now - created_at).total_seconds())
            if view.verdict == "done":
                await self._handler.record_carrier_state(job, view)
            checked += 1
        return checked

    async def _claim(self, now: datetime) -> tuple[Job, ServiceProvider, int, datetime] | None:
        """The most overdue device change, leased: its ``updated_at`` moves to now, so no other
        watchdog takes it for another timeout (nor this one again if it dies mid-check)."""
        async with unit_of_work(self._sessionmaker) as session:
            row = (
                await session.execute(
                    job_rows()
                    .where(
                        DeviceChange.status == c.DeviceChangeStatus.AWAITING_CALLBACK.value,
                        DeviceChange.updated_at < now - timedelta(seconds=self._timeout_s),
                    )
                    .order_by(DeviceChange.updated_at)
                    .limit(1)
                    .with_for_update(of=DeviceChange, skip_locked=True)
                )
            ).first()
            if row is None:
                return None
            dc, bulk, provider = row
            device = await session.get(Device, dc.device_id) if dc.device_id else None
            dc.updated_at = now
            return job_for(dc, bulk, device), provider, dc.attempts, dc.created_at

    async def _settle(
        self, job: Job, view: resume.CarrierView, attempts: int, age_s: float
    ) -> None:
        """Act on what the carrier showed, unless the callback came in the meantime."""
        async with unit_of_work(self._sessionmaker) as session:
            still = await session.scalar(
                update(DeviceChange)
                .where(
                    DeviceChange.id == job.device_change_id,
                    DeviceChange.status == c.DeviceChangeStatus.AWAITING_CALLBACK.value,
                )
                .values(updated_at=func.now())
                .returning(DeviceChange.id)
            )
            if still is None:
                return  # the callback (or another path) settled it while we asked
            if view.verdict == "pending" and age_s < self._give_up_s:
                note = f"no callback yet; {view.note}; checking again later"
            elif view.verdict == "not-done" and attempts < self._max_attempts:
                await session.execute(
                    update(DeviceChange)
                    .where(DeviceChange.id == job.device_change_id)
                    .values(status=c.DeviceChangeStatus.QUEUED.value, published_at=None)
                )
                await notify_outbox(session)
                note = f"no callback; {view.note}; sending again"
            elif view.verdict == "done":
                note = "no callback; carrier shows it done"
            else:
                await finish_device_change(
                    session,
                    job.device_change_id,
                    c.DeviceChangeStatus.FAILED,
                    error_code="CallbackMissing",
                    error_message=f"no callback after {age_s / 60:.0f} min; {view.note}",
                )
                note = f"no callback; {view.note}; gave up"
            audit(
                session,
                bulk_change_id=job.bulk_change_id,
                device_change_id=job.device_change_id,
                step="callback-timeout",
                actor=ACTOR,
                message=note,
            )
