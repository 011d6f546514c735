"""Missing callbacks: a device change still ``AwaitingCallback`` after the timeout is checked
against the carrier's device list. Done there → recorded as done; still under way → checked
again later, until the give-up age; not done → sent again while attempts remain, else failed.

Every worker process runs one. It works one carrier account at a time: the overdue device
changes of the account (up to ``batch``, one page of the device list) are claimed with
``FOR UPDATE SKIP LOCKED`` and leased (their ``updated_at`` moved on) in one short transaction,
the carrier is asked with no transaction open, with one list of the account for them all
(:func:`resume.check_many`), and each answer is acted on only if no callback came in the
meantime. A list that fails (carrier error, no budget) settles nothing: the devices stay
leased, are checked again on a later pass, and the pass goes on with the next account."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common import contracts as c
from devicebulk_common import reconciliation
from devicebulk_common.carriers import CarrierError
from devicebulk_common.carriers.rate_limit import BudgetDeferred
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.lifecycle import audit, finish_device_change
from devicebulk_common.models import BulkChange, Device, DeviceChange, ServiceProvider
from devicebulk_common.outbox.relay import notify_outbox
from devicebulk_worker import resume
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.handler import DeviceChangeHandler
from devicebulk_worker.operations import Job
from devicebulk_worker.operations.registry import job_for
from devicebulk_worker.recording import ACTOR
from devicebulk_worker.retry import settled_params

log = structlog.get_logger(__name__)


class Claimed(NamedTuple):
    """One overdue device change, leased: its job, attempts so far and when it was created."""

    job: Job
    attempts: int
    created_at: datetime


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
        batch: int = 2_000,
        hold_s: float = 60.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._adapters = adapters
        self._handler = handler
        self._timeout_s = timeout_s
        self._give_up_s = give_up_s
        self._max_attempts = max_attempts
        self._batch = batch
        self._hold_s = hold_s

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
        """Check the overdue device changes of one carrier account after another, until none
        is left that this pass may take; returns how many were claimed (checked or not).
        First, next steps held longer than the hold (a callback of their request never came)
        are let go."""
        await self.release_stale_holds()
        now = datetime.now(UTC)
        claimed = 0
        while (group := await self._claim(now)) is not None:
            provider, changes = group
            claimed += len(changes)
            await self._check(provider, changes, now)
        return claimed

    async def release_stale_holds(self) -> int:
        async with unit_of_work(self._sessionmaker) as session:
            released = await reconciliation.release_stale_holds(session, older_than_s=self._hold_s)
            if released:
                await notify_outbox(session)
        if released:
            log.info("next steps held too long released", device_changes=released)
        return released

    async def _check(
        self, provider: ServiceProvider, changes: list[Claimed], now: datetime
    ) -> None:
        jobs = [ch.job for ch in changes]
        try:
            # No transaction is open during the carrier call: the claim is a lease.
            views = await resume.check_many(self._adapters.adapter(provider), jobs)
        except (CarrierError, BudgetDeferred) as exc:
            # Settles nothing: the devices stay leased and are checked again on a later pass.
            log.warning(
                "callback watchdog could not list the devices; checking again later",
                service_provider_id=provider.id,
                devices=len(jobs),
                error=getattr(exc, "code", None) or type(exc).__name__,
            )
            return
        for change, view in zip(changes, views, strict=True):
            if isinstance(view, CarrierError):
                # This device could not be read: it stays leased and is checked again on a
                # later pass; what the carrier showed of the others stands.
                log.info(
                    "callback watchdog could not read a device; checking it again later",
                    device_change_id=change.job.device_change_id,
                    error=view.code or type(view).__name__,
                )
                continue
            age_s = (now - change.created_at).total_seconds()
            await self._settle(change.job, view, change.attempts, age_s)
            if view.verdict == "done":
                await self._handler.record_carrier_state(change.job, view)

    async def _claim(self, now: datetime) -> tuple[ServiceProvider, list[Claimed]] | None:
        """The overdue device changes of the account with the most overdue one (up to a
        batch), leased: their ``updated_at`` moves to now, so no other watchdog takes them
        for another timeout (nor this one again if it dies mid-check)."""
        overdue = (
            DeviceChange.status == c.DeviceChangeStatus.AWAITING_CALLBACK.value,
            DeviceChange.updated_at < now - timedelta(seconds=self._timeout_s),
        )
        async with unit_of_work(self._sessionmaker) as session:
            provider_id = await session.scalar(
                select(BulkChange.service_provider_id)
                .join(DeviceChange, DeviceChange.bulk_change_id == BulkChange.id)
                .where(*overdue)
                .order_by(DeviceChange.updated_at)
                .limit(1)
                .with_for_update(of=DeviceChange, skip_locked=True)
            )
            if provider_id is None:
                return None
            changes = (
                await session.scalars(
                    select(DeviceChange)
                    .join(BulkChange, BulkChange.id == DeviceChange.bulk_change_id)
                    .where(*overdue, BulkChange.service_provider_id == provider_id)
                    .order_by(DeviceChange.updated_at)
                    .limit(self._batch)
                    .with_for_update(of=DeviceChange, skip_locked=True)
                )
            ).all()
            provider = await session.get(ServiceProvider, provider_id)
            if not changes or provider is None:
                return None
            # Each bulk change (it carries its whole request) and device is loaded once.
            bulk_ids = {dc.bulk_change_id for dc in changes}
            bulks = {
                b.id: b
                for b in await session.scalars(
                    select(BulkChange).where(BulkChange.id.in_(bulk_ids))
                )
            }
            device_ids = [dc.device_id for dc in changes if dc.device_id]
            devices = {
                d.id: d
                for d in await session.scalars(select(Device).where(Device.id.in_(device_ids)))
            }
            out = []
            for dc in changes:
                dc.updated_at = now
                device = devices.get(dc.device_id) if dc.device_id else None
                job = job_for(dc, bulks[dc.bulk_change_id], device)
                out.append(Claimed(job, dc.attempts, dc.created_at))
            return provider, out

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
                    .values(
                        status=c.DeviceChangeStatus.QUEUED.value,
                        published_at=None,
                        params=settled_params(),
                    )
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
