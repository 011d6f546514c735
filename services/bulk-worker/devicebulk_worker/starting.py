"""Starting a batch: its device changes locked in id order, the startable ones moved to
Processing with an attempt, a lease and an audit row each, and the jobs the carrier calls are
made of.

One live attempt per device change: when a broker connection closes, RabbitMQ delivers the
unacked messages again while the first consumer is still working them. The attempt that starts
a change takes a lease (owner, expiry; renewed while it works, see :func:`renew_leases`); a
delivery that finds the change ``Processing`` under a lease that has not expired leaves it
alone and comes back through the delay queue just after the expiry (so a lease whose owner
died is resumed then, and one whose owner finished finds the change ended). Only an expired
lease is resumed. The owner is one batch, not one process: a copy that reaches the same
process is left alone as well.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import structlog
from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common import contracts as c
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.lifecycle import Finish, finish_device_changes
from devicebulk_common.models import (
    BulkChange,
    Device,
    DeviceChange,
    DeviceChangeLog,
    ServiceProvider,
)
from devicebulk_worker.durable import RETRYABLE
from devicebulk_worker.operations import Job, known
from devicebulk_worker.operations.registry import (
    INVALID_OPTIONS,
    carrier_capabilities,
    is_local,
    job_for,
    planned,
)
from devicebulk_worker.recording import ACTOR
from devicebulk_worker.retry import TIER_BOUNDS_S, asks_first, schedule_retry

log = structlog.get_logger(__name__)

STARTABLE = frozenset(
    {c.DeviceChangeStatus.QUEUED, c.DeviceChangeStatus.RETRY, c.DeviceChangeStatus.PROCESSING}
)

# The longest a copy that found a live lease waits before it looks again (the 60 s tier).
DEFER_MAX_S = TIER_BOUNDS_S[1]

# A retry after one of these may find the previous request done: the request was sent and no
# answer came back, so the carrier is asked before anything is sent again.
UNKNOWN_OUTCOME = frozenset({"Timeout", "TransportError"})


def job_rows() -> Select[DeviceChange, BulkChange, ServiceProvider]:
    """A device change with its bulk change and carrier account (lock the change with it)."""
    return (
        select(DeviceChange, BulkChange, ServiceProvider)
        .join(BulkChange, BulkChange.id == DeviceChange.bulk_change_id)
        .join(ServiceProvider, ServiceProvider.id == BulkChange.service_provider_id)
    )


async def _locked_jobs(
    session: AsyncSession, ids: list[int]
) -> list[tuple[DeviceChange, BulkChange, ServiceProvider]]:
    """The device changes locked in id order, each with its bulk change and carrier account.

    Bulk changes and accounts are loaded once each, not joined to every row: a bulk change
    carries its whole request (100,000 ICCIDs at most), and decoding it once per device was
    most of a worker's CPU."""
    changes = (
        await session.scalars(
            select(DeviceChange)
            .where(DeviceChange.id.in_(ids))
            .order_by(DeviceChange.id)
            .with_for_update()
        )
    ).all()
    if not changes:
        return []
    bulk_ids = {dc.bulk_change_id for dc in changes}
    bulks = {
        b.id: b
        for b in await session.scalars(select(BulkChange).where(BulkChange.id.in_(bulk_ids)))
    }
    provider_ids = {b.service_provider_id for b in bulks.values()}
    providers = {
        p.id: p
        for p in await session.scalars(
            select(ServiceProvider).where(ServiceProvider.id.in_(provider_ids))
        )
    }
    out = []
    for dc in changes:
        bulk = bulks[dc.bulk_change_id]
        out.append((dc, bulk, providers[bulk.service_provider_id]))
    return out


class Started(NamedTuple):
    """One device change started: its job, its carrier account, whether the last attempt's
    outcome is unknown (ask the carrier first), and its tenant (requests never mix tenants)."""

    job: Job
    provider: ServiceProvider
    resumed: bool
    tenant_id: int


@dataclass
class Lease:
    """The claim one batch holds on the device changes it started."""

    owner: str
    duration_s: float = 120.0
    ids: list[int] = field(default_factory=list)


async def renew_leases(sessionmaker: async_sessionmaker[AsyncSession], lease: Lease) -> int:
    """Push the lease's expiry on for the changes it still holds (Processing, this owner)."""
    if not lease.ids:
        return 0
    async with unit_of_work(sessionmaker) as session:
        changed = await session.execute(
            update(DeviceChange)
            .where(
                DeviceChange.id.in_(lease.ids),
                DeviceChange.lease_owner == lease.owner,
                DeviceChange.status == c.DeviceChangeStatus.PROCESSING.value,
            )
            .values(lease_expires_at=func.now() + timedelta(seconds=lease.duration_s))
        )
    return int(changed.rowcount)  # type: ignore[attr-defined]


async def release_leases(sessionmaker: async_sessionmaker[AsyncSession], lease: Lease) -> None:
    """The batch is over: a change it left Processing (its outcome could not be recorded, so
    its message comes again) is resumable at once, not after the expiry."""
    if not lease.ids:
        return
    async with unit_of_work(sessionmaker) as session:
        await session.execute(
            update(DeviceChange)
            .where(
                DeviceChange.id.in_(lease.ids),
                DeviceChange.lease_owner == lease.owner,
                DeviceChange.status == c.DeviceChangeStatus.PROCESSING.value,
            )
            .values(lease_expires_at=None)
        )


@asynccontextmanager
async def held(sessionmaker: async_sessionmaker[AsyncSession], lease: Lease) -> AsyncIterator[None]:
    """Hold `lease` while the block runs: renewed every third of it, released at the end (a
    failed release is harmless: the lease expires on its own)."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease.duration_s / 3)
            try:
                await renew_leases(sessionmaker, lease)
            except RETRYABLE as exc:
                log.warning("renewing the lease failed; trying again", error=str(exc))

    renewing = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewing.cancel()
        try:
            await release_leases(sessionmaker, lease)
        except RETRYABLE as exc:
            log.warning("releasing the lease failed", error=str(exc))


async def _leave_to_owner(
    session: AsyncSession, dc: DeviceChange, bulk: BulkChange, now: datetime
) -> None:
    """Another attempt holds a live lease: look again just after it expires, or in at most
    the 60 s tier's bound if it expires later (a live owner renews it, so the copy defers
    again): a longer delay would go to the 600 s tier, where it can wait behind messages of
    up to 600 s, not just past the lease's expiry."""
    assert dc.lease_expires_at is not None
    wait_s = min((dc.lease_expires_at - now).total_seconds() + 1.0, DEFER_MAX_S)
    log.info(
        "device change leased by a live attempt; deferred",
        device_change_id=dc.id,
        lease_owner=dc.lease_owner,
        wait_s=round(wait_s, 1),
    )
    await schedule_retry(
        session,
        c.DeviceChangeMessage(
            device_change_id=dc.id, bulk_change_id=bulk.id, correlation_id=str(bulk.id)
        ),
        delay_s=wait_s,
    )


async def start_batch(
    sessionmaker: async_sessionmaker[AsyncSession], ids: list[int], lease: Lease | None = None
) -> list[Started]:
    """Lock the batch's rows (in id order), and move the startable ones to Processing under
    ``lease`` (a change another live lease holds is left alone and looked at again later)."""
    lease = lease or Lease(owner=f"anonymous-{id(ids)}")
    started: list[Started] = []
    async with unit_of_work(sessionmaker) as session:
        rows = await _locked_jobs(session, ids)
        now = (await session.execute(select(func.now()))).scalar_one()
        expiry = now + timedelta(seconds=lease.duration_s)
        if len(rows) < len(set(ids)):
            log.warning("device changes not found; messages dropped", count=len(ids) - len(rows))
        device_ids = [dc.device_id for dc, _, _ in rows if dc.device_id is not None]
        devices = {
            d.id: d
            for d in (
                await session.scalars(select(Device).where(Device.id.in_(device_ids)))
                if device_ids
                else []
            )
        }
        unknown: list[Finish] = []
        entries: list[dict[str, Any]] = []
        providers = {p.id: p for _, _, p in rows}
        capabilities = {i: carrier_capabilities(p) for i, p in providers.items()}
        for dc, bulk, provider in rows:
            status = c.DeviceChangeStatus(dc.status)
            if status not in STARTABLE:
                continue
            if (
                status is c.DeviceChangeStatus.PROCESSING
                and dc.lease_expires_at is not None
                and dc.lease_expires_at > now
            ):
                await _leave_to_owner(session, dc, bulk, now)
                continue
            op = (dc.params or {}).get("op", "")
            if not known(op):
                unknown.append(
                    Finish(
                        dc.id,
                        c.DeviceChangeStatus.FAILED,
                        "UnknownOperation",
                        f"no operation {op!r} in this worker",
                    )
                )
                continue
            found = capabilities[provider.id]
            if isinstance(found, str) and not is_local(op):
                unknown.append(Finish(dc.id, c.DeviceChangeStatus.FAILED, INVALID_OPTIONS, found))
                continue
            dc.attempts += 1
            resumed = status is c.DeviceChangeStatus.PROCESSING or (
                status in (c.DeviceChangeStatus.RETRY, c.DeviceChangeStatus.QUEUED)
                and (dc.error_code in UNKNOWN_OUTCOME or asks_first(dc.params))
            )
            dc.status = c.DeviceChangeStatus.PROCESSING.value
            dc.lease_owner = lease.owner
            dc.lease_expires_at = expiry
            lease.ids.append(dc.id)
            entries.append(
                {
                    "bulk_change_id": dc.bulk_change_id,
                    "device_change_id": dc.id,
                    "step": "attempt",
                    "actor": ACTOR,
                    "status": dc.status,
                    "message": f"attempt {dc.attempts}: {op}"
                    + (" (the last one's outcome is unknown: asking first)" if resumed else ""),
                }
            )
            if not isinstance(found, str) and (fitted := planned(dc.params or {}, found)):
                dc.params = fitted  # stored with the attempt: every later path reads it
            job = job_for(dc, bulk, devices.get(dc.device_id) if dc.device_id else None)
            started.append(Started(job, provider, resumed, bulk.tenant_id))
        await session.flush()
        await finish_device_changes(session, unknown)
        if entries:
            await session.execute(insert(DeviceChangeLog), entries)
    return started
