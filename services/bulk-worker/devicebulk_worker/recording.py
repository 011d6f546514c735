"""What the worker writes besides the carrier call itself: the audit rows of a batch, the
record of an operation the carrier already shows done, and the database-only operations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common import contracts as c
from devicebulk_common.carriers import CarrierDevice, CarrierExchange
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.lifecycle import Finish, audit, finish_device_change, finish_device_changes
from devicebulk_common.models import DeviceChange, DeviceChangeLog
from devicebulk_common.operation_specs import Confirmed
from devicebulk_worker import resume
from devicebulk_worker.confirming import record_many
from devicebulk_worker.durable import NEVER, RETRYABLE
from devicebulk_worker.operations import Job
from devicebulk_worker.retry import settled_params

log = structlog.get_logger(__name__)

ACTOR = "bulk-worker"


def audit_rows(
    session_rows: list[dict[str, Any]],
    jobs: Sequence[Job],
    *,
    step: str,
    status: str | None,
    message: str,
    exchange: CarrierExchange | None = None,
) -> None:
    """One audit row a device; the carrier's request and response text once per bulk change
    (a 1,000-device request is not copied 1,000 times)."""
    http = {
        "http_method": exchange.method if exchange else None,
        "http_url": exchange.url if exchange else None,
        "http_status": exchange.status_code if exchange else None,
        "duration_ms": exchange.duration_ms if exchange else None,
    }
    texts_written: set[Any] = set()
    for job in jobs:
        row = {
            "bulk_change_id": job.bulk_change_id,
            "device_change_id": job.device_change_id,
            "step": step,
            "actor": ACTOR,
            "status": status,
            "message": message,
            "request_text": None,
            "response_text": None,
            **http,
        }
        if exchange is not None and job.bulk_change_id not in texts_written:
            texts_written.add(job.bulk_change_id)
            row["request_text"] = exchange.request_body
            row["response_text"] = exchange.response_body
        session_rows.append(row)


async def write_audit(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(DeviceChangeLog), rows)


# The error code of a device change whose outcome could not be recorded (alert on the ERROR
# log line ``device_change.outcome_unrecordable``).
UNRECORDABLE = "OutcomeNotRecorded"


def unrecordable(exc: BaseException) -> bool:
    """Trying again cannot record it: a constraint or a bug, not a passing database fault."""
    if isinstance(exc, NEVER):
        return True
    return isinstance(exc, Exception) and not isinstance(exc, RETRYABLE)


async def fail_unrecordable(
    sessionmaker: async_sessionmaker[AsyncSession], jobs: Sequence[Job], exc: BaseException
) -> None:
    """An outcome that can never be recorded (a constraint, an effect that cannot apply) ends
    the device changes Failed with a named reason, instead of redelivery to the limit while
    they stay Processing."""
    reason = f"{type(exc).__name__}: {exc}"[:2_000]
    log.error(
        "device_change.outcome_unrecordable",
        device_change_ids=[j.device_change_id for j in jobs][:50],
        devices=len(jobs),
        error=reason,
    )
    async with unit_of_work(sessionmaker) as session:
        await finish_device_changes(
            session,
            [
                Finish(j.device_change_id, c.DeviceChangeStatus.FAILED, UNRECORDABLE, reason)
                for j in jobs
            ],
        )
        rows: list[dict[str, Any]] = []
        audit_rows(
            rows,
            jobs,
            step="record",
            status=c.DeviceChangeStatus.FAILED.value,
            message=f"the outcome could not be recorded: {reason}",
        )
        await write_audit(session, rows)


async def lock_device_change(session: AsyncSession, device_change_id: int) -> None:
    """Lock the device change before its device: the one lock order of every writer (the
    callback reconciler takes them in this order too; the other order deadlocked)."""
    await session.execute(
        select(DeviceChange.id).where(DeviceChange.id == device_change_id).with_for_update()
    )


async def record_carrier_state(
    sessionmaker: async_sessionmaker[AsyncSession], job: Job, view: resume.CarrierView
) -> None:
    """The carrier shows the operation done (or under way): record that, call nothing."""
    async with unit_of_work(sessionmaker) as session:
        await lock_device_change(session, job.device_change_id)
        if view.verdict == "done":
            # One row per settlement: if another path (a callback) settled it meanwhile, its
            # row tells the story, and this check neither writes the device nor a second row.
            recorded = await record_many(
                session, [job.device_change_id], Confirmed.read_back(view.device)
            )
            if not recorded:
                return
            ((_, done),) = recorded
            if done.finish is not None:
                await finish_device_change(
                    session,
                    job.device_change_id,
                    done.finish.status,
                    error_code=done.finish.error_code,
                    error_message=done.finish.error_message,
                    result=done.finish.result,
                )
            status = done.status
        else:
            # From Processing only: never over a Success a callback committed meanwhile.
            moved = await session.execute(
                update(DeviceChange)
                .where(
                    DeviceChange.id == job.device_change_id,
                    DeviceChange.status == c.DeviceChangeStatus.PROCESSING.value,
                )
                .values(
                    status=c.DeviceChangeStatus.AWAITING_CALLBACK.value, params=settled_params()
                )
            )
            if not moved.rowcount:  # type: ignore[attr-defined]
                return
            status = c.DeviceChangeStatus.AWAITING_CALLBACK
        audit(
            session,
            bulk_change_id=job.bulk_change_id,
            device_change_id=job.device_change_id,
            actor=ACTOR,
            step="resume-check",
            status=status.value,
            message=(
                f"settled by the resume check (the carrier's view of the device): {view.note}"
                if status is not c.DeviceChangeStatus.AWAITING_CALLBACK
                else f"the resume check found it under way at the carrier: {view.note}; "
                "awaiting its callback"
            )
            + "; not sent again",
        )


async def record_under_way(
    sessionmaker: async_sessionmaker[AsyncSession],
    checked: Sequence[tuple[Job, resume.CarrierView]],
) -> None:
    """The carrier shows these operations under way: each device change awaits its callback
    (from Processing only: never over a Success a callback committed meanwhile), nothing is
    sent again. One transaction for them all, not one a device."""
    if not checked:
        return
    by_id = {job.device_change_id: (job, view) for job, view in checked}
    async with unit_of_work(sessionmaker) as session:
        await _lock_in_order(session, list(by_id))
        moved = (
            await session.scalars(
                update(DeviceChange)
                .where(
                    DeviceChange.id.in_(list(by_id)),
                    DeviceChange.status == c.DeviceChangeStatus.PROCESSING.value,
                )
                .values(
                    status=c.DeviceChangeStatus.AWAITING_CALLBACK.value, params=settled_params()
                )
                .returning(DeviceChange.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
        await write_audit(
            session,
            [
                _note(
                    by_id[i][0],
                    c.DeviceChangeStatus.AWAITING_CALLBACK.value,
                    f"the resume check found it under way at the carrier: {by_id[i][1].note}; "
                    "awaiting its callback; not sent again",
                )
                for i in sorted(moved)
            ],
        )


async def note_sent_again(
    sessionmaker: async_sessionmaker[AsyncSession],
    checked: Sequence[tuple[Job, resume.CarrierView]],
) -> None:
    """Why devices whose last attempt's outcome was unknown are sent again (the audit says).
    The check settled it, so the ask-first mark goes: were this send refused outright (a 429,
    a 500), its retry would not list the account again. One transaction for them all."""
    if not checked:
        return
    async with unit_of_work(sessionmaker) as session:
        await session.execute(
            update(DeviceChange)
            .where(DeviceChange.id.in_([job.device_change_id for job, _ in checked]))
            .values(params=settled_params())
            .execution_options(synchronize_session=False)
        )
        await write_audit(
            session,
            [
                _note(
                    job,
                    c.DeviceChangeStatus.PROCESSING.value,
                    f"sent again: the carrier shows attempt {job.attempt - 1} not done "
                    f"({view.note})",
                )
                for job, view in checked
            ],
        )


def _note(job: Job, status: str, message: str) -> dict[str, Any]:
    return {
        "bulk_change_id": job.bulk_change_id,
        "device_change_id": job.device_change_id,
        "step": "resume-check",
        "actor": ACTOR,
        "status": status,
        "message": message,
    }


async def _lock_in_order(session: AsyncSession, device_change_ids: list[int]) -> None:
    """Lock the device changes in id order, as every other writer of many does."""
    await session.execute(
        select(DeviceChange.id)
        .where(DeviceChange.id.in_(device_change_ids))
        .order_by(DeviceChange.id)
        .with_for_update()
    )


async def apply_answered(
    session: AsyncSession, answered: Sequence[tuple[Job, CarrierDevice | None]]
) -> list[Finish]:
    """The devices a synchronous answer says succeeded (with the device as the carrier showed
    it when it confirmed, if it did): each recorded through its spec."""
    if not answered:
        return []
    confirmed = {
        job.device_change_id: Confirmed.read_back(seen, via="answer") for job, seen in answered
    }
    recorded = await record_many(session, list(confirmed), confirmed)
    return [r.finish for _, r in recorded if r.finish is not None]


async def apply_local(sessionmaker: async_sessionmaker[AsyncSession], job: Job) -> None:
    """Run a database-only operation in one transaction; a refusal fails the change."""
    async with unit_of_work(sessionmaker) as session:
        recorded = await record_many(session, [job.device_change_id], Confirmed("database"))
        if not recorded:
            return
        ((_, done),) = recorded
        assert done.finish is not None
        await finish_device_change(
            session,
            job.device_change_id,
            done.finish.status,
            error_code=done.finish.error_code,
            error_message=done.finish.error_message,
            result=done.finish.result,
        )
        ok = done.status is c.DeviceChangeStatus.SUCCESS
        audit(
            session,
            bulk_change_id=job.bulk_change_id,
            device_change_id=job.device_change_id,
            actor=ACTOR,
            step=f"database:{job.op}",
            status=done.status.value,
            message=f"{job.op} applied: {done.finish.result}" if ok else done.message,
        )
