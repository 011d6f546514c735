"""Runs one device change: start the attempt, call the carrier, record the outcome.

Three short transactions per device and no transaction open during the carrier call. The
message is acked by the consumer base only after the last one committed.
"""

from __future__ import annotations

import random
from typing import Any

import structlog
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common import contracts as c
from devicebulk_common.callbacks import lock_request, reconcile_request
from devicebulk_common.carriers import (
    AsyncRequestAccepted,
    CarrierError,
    SyncActionResult,
)
from devicebulk_common.carriers.rate_limit import BudgetDeferred
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.lifecycle import audit, finish_device_change
from devicebulk_common.logging import bound
from devicebulk_common.models import BulkChange, Device, DeviceChange, ServiceProvider
from devicebulk_worker import resume
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.durable import durably
from devicebulk_worker.operations import OPERATIONS, Job
from devicebulk_worker.operations import status as _status  # noqa: F401  (registers operations)
from devicebulk_worker.operations.registry import job_for
from devicebulk_worker.retry import RetryPolicy, dead_letter, schedule_retry

log = structlog.get_logger(__name__)

ACTOR = "bulk-worker"

STARTABLE = frozenset(
    {c.DeviceChangeStatus.QUEUED, c.DeviceChangeStatus.RETRY, c.DeviceChangeStatus.PROCESSING}
)

# What a synchronous success does to the device record.
SYNC_EFFECTS: dict[str, c.DeviceStatus] = {"add": c.DeviceStatus.PREACTIVE}
# What the carrier's state, found after an interrupted attempt, means for the device record.
RESUME_EFFECTS: dict[str, c.DeviceStatus] = {
    "suspend": c.DeviceStatus.SUSPENDED,
    "restore": c.DeviceStatus.ACTIVE,
    "deactivate": c.DeviceStatus.DEACTIVATED,
    "add": c.DeviceStatus.PREACTIVE,
}


def _audit(session: AsyncSession, job: Job, **entry: Any) -> None:
    audit(
        session,
        bulk_change_id=job.bulk_change_id,
        device_change_id=job.device_change_id,
        actor=ACTOR,
        **entry,
    )


async def _to_retry(session: AsyncSession, job: Job, **values: Any) -> bool:
    """Processing → Retry (False if another delivery already moved it on)."""
    changed = await session.execute(
        update(DeviceChange)
        .where(
            DeviceChange.id == job.device_change_id,
            DeviceChange.status == c.DeviceChangeStatus.PROCESSING.value,
        )
        .values(status=c.DeviceChangeStatus.RETRY.value, **values)
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]


def job_rows() -> Select[tuple[DeviceChange, BulkChange, ServiceProvider]]:
    """A device change with its bulk change and carrier account (lock the change with it)."""
    return (
        select(DeviceChange, BulkChange, ServiceProvider)
        .join(BulkChange, BulkChange.id == DeviceChange.bulk_change_id)
        .join(ServiceProvider, ServiceProvider.id == BulkChange.service_provider_id)
    )


class DeviceChangeHandler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        adapters: AdapterPool,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._adapters = adapters
        self._retry = retry or RetryPolicy()

    async def __call__(
        self, message: c.DeviceChangeMessage, raw: AbstractIncomingMessage | None = None
    ) -> None:
        with bound(
            bulk_change_id=str(message.bulk_change_id), device_change_id=message.device_change_id
        ):
            started = await self._start(message.device_change_id)
            if started is None:
                return
            job, provider, resumed = started
            adapter = self._adapters.adapter(provider)
            try:
                if resumed:
                    view = await resume.check(adapter, job)
                    if view.verdict != "not-done":
                        await durably(lambda: self.record_carrier_state(job, view))
                        return
                outcome = await OPERATIONS[job.op](adapter, job)
            except BudgetDeferred as exc:
                wait = exc.wait_s
                await durably(lambda: self._defer(job, wait))
                return
            except CarrierError as exc:
                refused = exc
                if self._retry.should_retry(refused, job.attempt):
                    await durably(lambda: self._retry_later(job, refused))
                else:
                    await durably(lambda: self._failed(job, refused))
                return
            if isinstance(outcome, AsyncRequestAccepted):
                await durably(lambda: self._accepted(job, outcome))
            else:
                await durably(lambda: self._synchronous(job, outcome))

    async def _start(self, device_change_id: int) -> tuple[Job, ServiceProvider, bool] | None:
        async with unit_of_work(self._sessionmaker) as session:
            row = (
                await session.execute(
                    job_rows()
                    .where(DeviceChange.id == device_change_id)
                    .with_for_update(of=DeviceChange)
                )
            ).first()
            if row is None:
                log.warning("device change not found; message dropped")
                return None
            dc, bulk, provider = row
            status = c.DeviceChangeStatus(dc.status)
            if status not in STARTABLE:
                log.info("device change already past this step; nothing to do", status=dc.status)
                return None
            op = (dc.params or {}).get("op")
            if op not in OPERATIONS:
                await finish_device_change(
                    session,
                    dc.id,
                    c.DeviceChangeStatus.FAILED,
                    error_code="UnknownOperation",
                    error_message=f"no operation {op!r} in this worker",
                )
                return None
            device = await session.get(Device, dc.device_id) if dc.device_id else None
            dc.attempts += 1
            resumed = status is c.DeviceChangeStatus.PROCESSING
            dc.status = c.DeviceChangeStatus.PROCESSING.value
            audit(
                session,
                bulk_change_id=dc.bulk_change_id,
                device_change_id=dc.id,
                step="attempt",
                actor=ACTOR,
                status=dc.status,
                message=f"attempt {dc.attempts}: {op}"
                + (" (after an interrupted attempt)" if resumed else ""),
            )
            return job_for(dc, bulk, device), provider, resumed

    async def record_carrier_state(self, job: Job, view: resume.CarrierView) -> None:
        """The carrier shows the operation done (or under way): record that, call nothing."""
        async with unit_of_work(self._sessionmaker) as session:
            if view.verdict == "done":
                result: dict[str, Any] = {}
                if view.device is not None and job.op == "activate":
                    result = {"msisdn": view.device.msisdn, "mdn": view.device.mdn}
                    await session.execute(
                        update(Device)
                        .where(Device.iccid == job.device.iccid)
                        .where(Device.service_provider_id == job.service_provider_id)
                        .values(
                            status=c.DeviceStatus.ACTIVE.value,
                            msisdn=view.device.msisdn or view.device.mdn,
                            mdn=view.device.mdn,
                        )
                    )
                elif job.op in RESUME_EFFECTS:
                    await session.execute(
                        update(Device)
                        .where(Device.iccid == job.device.iccid)
                        .where(Device.service_provider_id == job.service_provider_id)
                        .values(status=RESUME_EFFECTS[job.op].value)
                    )
                await finish_device_change(
                    session, job.device_change_id, c.DeviceChangeStatus.SUCCESS, result=result
                )
                status = c.DeviceChangeStatus.SUCCESS
            else:
                await session.execute(
                    update(DeviceChange)
                    .where(DeviceChange.id == job.device_change_id)
                    .values(status=c.DeviceChangeStatus.AWAITING_CALLBACK.value)
                )
                status = c.DeviceChangeStatus.AWAITING_CALLBACK
            _audit(
                session,
                job,
                step="resume-check",
                status=status.value,
                message=f"{view.note}: not sent again",
            )

    async def _accepted(self, job: Job, outcome: AsyncRequestAccepted) -> None:
        async with unit_of_work(self._sessionmaker) as session:
            await lock_request(session, outcome.request_id)
            await session.execute(
                update(DeviceChange)
                .where(
                    DeviceChange.id == job.device_change_id,
                    DeviceChange.status == c.DeviceChangeStatus.PROCESSING.value,
                )
                .values(
                    status=c.DeviceChangeStatus.AWAITING_CALLBACK.value,
                    carrier_request_id=outcome.request_id,
                )
            )
            _audit(
                session,
                job,
                step=f"carrier:{job.op}",
                status=c.DeviceChangeStatus.AWAITING_CALLBACK.value,
                message=f"carrier accepted request {outcome.request_id}",
                exchange=outcome.exchange,
            )
            await reconcile_request(session, outcome.request_id)
        log.info("carrier accepted", op=job.op, request_id=outcome.request_id)

    async def _synchronous(self, job: Job, outcome: SyncActionResult) -> None:
        async with unit_of_work(self._sessionmaker) as session:
            result = next(
                (r for r in outcome.results if r.device.iccid == job.device.iccid),
                outcome.results[0] if len(outcome.results) == 1 else None,
            )
            ok = result is not None and result.ok
            message = result.message if result else "carrier answer did not name this device"
            if ok:
                await self._apply_sync_effect(session, job)
                await finish_device_change(
                    session, job.device_change_id, c.DeviceChangeStatus.SUCCESS
                )
            else:
                await finish_device_change(
                    session,
                    job.device_change_id,
                    c.DeviceChangeStatus.FAILED,
                    error_code=f"{job.op}.Failed",
                    error_message=message,
                )
            _audit(
                session,
                job,
                step=f"carrier:{job.op}",
                status="Success" if ok else "Failed",
                message=message,
                exchange=outcome.exchange,
            )

    async def _apply_sync_effect(self, session: AsyncSession, job: Job) -> None:
        new_status = SYNC_EFFECTS.get(job.op)
        if new_status is None:
            return
        dc = await session.get(DeviceChange, job.device_change_id)
        if dc is not None and dc.device_id is not None:
            await session.execute(
                update(Device).where(Device.id == dc.device_id).values(status=new_status.value)
            )

    async def _defer(self, job: Job, wait_s: float) -> None:
        """The account's budget is booked ahead: come back when it frees, no attempt spent."""
        delay = wait_s * (1 + random.uniform(0, 0.1)) + 0.5
        async with unit_of_work(self._sessionmaker) as session:
            if not await _to_retry(session, job, attempts=DeviceChange.attempts - 1):
                return
            await schedule_retry(session, job.message, delay_s=delay)
            _audit(
                session,
                job,
                step="budget",
                status=c.DeviceChangeStatus.RETRY.value,
                message=f"carrier budget booked for {wait_s:.0f} s; waiting {delay:.0f} s",
            )

    async def _retry_later(self, job: Job, exc: CarrierError) -> None:
        delay = self._retry.delay_s(exc, job.attempt)
        log.info("transient carrier failure; retrying", op=job.op, code=exc.code, delay_s=delay)
        async with unit_of_work(self._sessionmaker) as session:
            if not await _to_retry(
                session, job, error_code=exc.code or type(exc).__name__, error_message=exc.message
            ):
                return
            await schedule_retry(session, job.message, delay_s=delay)
            _audit(
                session,
                job,
                step=f"carrier:{job.op}",
                status=c.DeviceChangeStatus.RETRY.value,
                message=f"{exc.code}: {exc.message}; attempt {job.attempt} of "
                f"{self._retry.max_attempts}, next in {delay:.1f} s",
                exchange=exc.exchange,
            )

    async def _failed(self, job: Job, exc: CarrierError) -> None:
        details: dict[str, Any] = {"code": exc.code, "http_status": exc.http_status}
        log.warning("carrier refused", op=job.op, **details, error=exc.message)
        gave_up = exc.retryable
        message = exc.message + (f" (gave up after {job.attempt} attempts)" if gave_up else "")
        async with unit_of_work(self._sessionmaker) as session:
            await finish_device_change(
                session,
                job.device_change_id,
                c.DeviceChangeStatus.FAILED,
                error_code=exc.code or type(exc).__name__,
                error_message=message,
            )
            if gave_up:
                await dead_letter(session, job.message)
            _audit(
                session,
                job,
                step=f"carrier:{job.op}",
                status=c.DeviceChangeStatus.FAILED.value,
                message=f"{exc.code}: {message}",
                exchange=exc.exchange,
            )
