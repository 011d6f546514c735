"""Recording the outcome of a carrier request: accepted (awaiting its callback), answered at
once (per device), deferred for the account's budget, retried later, or failed. One
transaction each, with the audit rows of the devices it is about; no carrier call here."""

from __future__ import annotations

import random
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common import contracts as c
from devicebulk_common.callbacks import lock_request, reconcile_request
from devicebulk_common.carriers import (
    AsyncRequestAccepted,
    AuthExpiredError,
    CarrierDevice,
    CarrierError,
    SyncActionResult,
)
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.lifecycle import Finish, audit, finish_device_changes
from devicebulk_common.models import DeviceChange
from devicebulk_worker.operations import Job
from devicebulk_worker.recording import ACTOR, apply_answered, audit_rows, write_audit
from devicebulk_worker.retry import (
    MAX_AUTH_ROUNDS,
    RetryPolicy,
    dead_letter,
    retry_values,
    schedule_retry,
)

log = structlog.get_logger(__name__)


def _ids(jobs: list[Job]) -> list[int]:
    return [j.device_change_id for j in jobs]


class Outcomes:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], retry: RetryPolicy) -> None:
        self._sessionmaker = sessionmaker
        self._retry = retry

    async def accepted(self, jobs: list[Job], outcome: AsyncRequestAccepted) -> None:
        async with unit_of_work(self._sessionmaker) as session:
            await lock_request(session, outcome.request_id)
            await session.execute(
                update(DeviceChange)
                .where(
                    DeviceChange.id.in_(_ids(jobs)),
                    DeviceChange.status == c.DeviceChangeStatus.PROCESSING.value,
                )
                .values(
                    status=c.DeviceChangeStatus.AWAITING_CALLBACK.value,
                    carrier_request_id=outcome.request_id,
                )
            )
            rows: list[dict[str, Any]] = []
            shared = f" with {len(jobs) - 1} other devices" if len(jobs) > 1 else ""
            audit_rows(
                rows,
                jobs,
                step=f"carrier:{jobs[0].op}",
                status=c.DeviceChangeStatus.AWAITING_CALLBACK.value,
                message=f"carrier accepted request {outcome.request_id}{shared}",
                exchange=outcome.exchange,
            )
            await write_audit(session, rows)
            await reconcile_request(session, outcome.request_id)
        log.info(
            "carrier accepted", op=jobs[0].op, request_id=outcome.request_id, devices=len(jobs)
        )

    async def synchronous(self, jobs: list[Job], outcome: SyncActionResult) -> None:
        by_iccid = {r.device.iccid: r for r in outcome.results if r.device.iccid}
        single = outcome.results[0] if len(outcome.results) == 1 and len(jobs) == 1 else None
        succeeded: list[tuple[Job, CarrierDevice | None]] = []
        finishes: list[Finish] = []
        rows: list[dict[str, Any]] = []
        for job in jobs:
            result = by_iccid.get(job.device.iccid, single)
            if result is not None and result.ok:
                succeeded.append((job, result.seen))
            else:
                message = result.message if result else "carrier answer did not name this device"
                finishes.append(
                    Finish(
                        job.device_change_id,
                        c.DeviceChangeStatus.FAILED,
                        f"{job.op}.Failed",
                        message,
                    )
                )
            audit_rows(
                rows,
                [job],
                step=f"carrier:{job.op}",
                status="Success" if result is not None and result.ok else "Failed",
                message=(result.message if result else None) or "no answer for this device",
                exchange=outcome.exchange if job is jobs[0] else None,
            )
        async with unit_of_work(self._sessionmaker) as session:
            finishes += await apply_answered(session, succeeded)
            await finish_device_changes(session, finishes)
            await write_audit(session, rows)

    async def _to_retry(self, session: AsyncSession, job: Job, **values: Any) -> bool:
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

    async def defer(self, jobs: list[Job], wait_s: float) -> None:
        """The account's budget is booked ahead: come back when it frees, no attempt spent."""
        async with unit_of_work(self._sessionmaker) as session:
            for job in jobs:
                delay = wait_s * (1 + random.uniform(0, 0.1)) + 0.5
                if not await self._to_retry(session, job, attempts=DeviceChange.attempts - 1):
                    continue
                await schedule_retry(session, job.message, delay_s=delay)
                audit(
                    session,
                    bulk_change_id=job.bulk_change_id,
                    device_change_id=job.device_change_id,
                    actor=ACTOR,
                    step="budget",
                    status=c.DeviceChangeStatus.RETRY.value,
                    message=f"carrier budget booked for {wait_s:.0f} s; waiting {delay:.0f} s",
                )

    async def retry_later(self, jobs: list[Job], exc: CarrierError) -> None:
        if not jobs:
            return
        log.info("transient carrier failure; retrying", code=exc.code, devices=len(jobs))
        # One delay per attempt number, not one per device: the devices of one request come
        # back together and are gathered (or checked) again as one request, not a trickle.
        delays = {a: self._retry.delay_s(exc, a) for a in sorted({j.attempt for j in jobs})}
        async with unit_of_work(self._sessionmaker) as session:
            for job in jobs:
                delay = delays[job.attempt]
                if not await self._to_retry(session, job, **retry_values(exc)):
                    continue
                await schedule_retry(session, job.message, delay_s=delay)
                audit(
                    session,
                    bulk_change_id=job.bulk_change_id,
                    device_change_id=job.device_change_id,
                    actor=ACTOR,
                    step=f"carrier:{job.op}",
                    status=c.DeviceChangeStatus.RETRY.value,
                    message=f"{exc.code}: {exc.message}; attempt {job.attempt} of "
                    f"{self._retry.max_attempts}, next in {delay:.1f} s",
                    exchange=exc.exchange if job is jobs[0] else None,
                )

    async def failed(self, jobs: list[Job], exc: CarrierError) -> None:
        if not jobs:
            return
        log.warning(
            "carrier refused", code=exc.code, http_status=exc.http_status, error=exc.message
        )
        gave_up = exc.retryable
        async with unit_of_work(self._sessionmaker) as session:
            finishes = []
            rows: list[dict[str, Any]] = []
            for job in jobs:
                message = exc.message + (
                    f" (gave up after {job.attempt} attempts)" if gave_up else ""
                )
                if isinstance(exc, AuthExpiredError):
                    message = (
                        f"{exc.message} (the carrier refused the {exc.token} token again after "
                        f"a fresh login, in {MAX_AUTH_ROUNDS} rounds; gave up)"
                    )
                finishes.append(
                    Finish(
                        job.device_change_id,
                        c.DeviceChangeStatus.FAILED,
                        exc.code or type(exc).__name__,
                        message,
                    )
                )
                if gave_up:
                    await dead_letter(session, job.message)
            audit_rows(
                rows,
                jobs,
                step=f"carrier:{jobs[0].op}",
                status=c.DeviceChangeStatus.FAILED.value,
                message=f"{exc.code}: {exc.message}",
                exchange=exc.exchange,
            )
            await finish_device_changes(session, finishes)
            await write_audit(session, rows)
