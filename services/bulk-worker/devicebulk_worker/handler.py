"""Runs device changes: start the attempts, call the carrier, record the outcomes.

Messages are gathered (:mod:`devicebulk_worker.gather`); a batch is started in one
transaction, its device changes grouped by carrier account, operation and carrier parameters,
and each group sent as ONE carrier request (at most the operation's device limit), its outcome
recorded in one transaction.

A carrier request never mixes tenants, even when they share a carrier account: each bulk
change's audit rows hold the request and response text, and an on-call engineer of tenant B
must never read tenant A's ICCIDs there. Gathering per tenant, rather than filtering a shared
exchange's JSON down to one bulk change's devices, was chosen because the texts are the
carrier's own (per-operation body shapes, error messages that quote devices, responses we do
not model): a filter would have to understand each, and a miss leaks; a request of one tenant
has nothing to hide. It costs requests only when several tenants run on one account at once.

No transaction is open during a carrier call. A message is acked by the consumer base only
after its device change's outcome committed. A carrier account that takes few calls at once
(Control Center) is worked a couple of requests at a time per process, the rest of the batch
waiting its turn in order (:mod:`devicebulk_worker.lanes`).

A group the carrier refuses for a reason that names a device is split in halves and each half
sent again, so one bad device does not fail the others; a transient failure schedules a retry
for each device of the group; a per-device failure inside an accepted request comes back as
that device's callback.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections import defaultdict
from collections.abc import Hashable, Sequence
from functools import partial

import structlog
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common import contracts as c
from devicebulk_common.carriers import (
    AsyncRequestAccepted,
    CarrierAdapter,
    CarrierError,
)
from devicebulk_common.carriers.rate_limit import BudgetDeferred
from devicebulk_common.logging import bound
from devicebulk_common.models import (
    ServiceProvider,
)
from devicebulk_worker import resume
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.durable import durably
from devicebulk_worker.gather import Gatherer
from devicebulk_worker.lanes import Lanes, Unit
from devicebulk_worker.operations import Job, send
from devicebulk_worker.operations.registry import devices_per_request
from devicebulk_worker.outcomes import Outcomes
from devicebulk_worker.recording import (
    apply_local,
    fail_unrecordable,
    note_sent_again,
    record_carrier_state,
    record_under_way,
    unrecordable,
)
from devicebulk_worker.retry import (
    RetryPolicy,
)
from devicebulk_worker.starting import Lease, held, start_batch

log = structlog.get_logger(__name__)


def names_a_device(exc: CarrierError) -> bool:
    """A permanent refusal of a whole request that is about one of its devices (the adapter
    that read the carrier's error code says so)."""
    return not exc.retryable and exc.about_device


def _ids(jobs: Sequence[Job]) -> list[int]:
    return [j.device_change_id for j in jobs]


class DeviceChangeHandler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        adapters: AdapterPool,
        retry: RetryPolicy | None = None,
        *,
        batch_max: int = 1_000,
        batch_wait_s: float = 0.05,
        batch_quiet_s: float | None = None,
        max_concurrent_calls: int = 16,
        lease_s: float = 120.0,
        account_wait_max_s: float = 900.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._adapters = adapters
        self._retry = retry or RetryPolicy()
        self._outcomes = Outcomes(sessionmaker, self._retry)
        self._batch_max = batch_max
        self._calls = asyncio.Semaphore(max_concurrent_calls)
        self._gatherer = Gatherer(
            self.run_batch, max_size=batch_max, max_wait_s=batch_wait_s, quiet_s=batch_quiet_s
        )
        self.carrier_requests = 0
        self._lease_s = lease_s
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._batches = itertools.count(1)
        # An account that takes few calls at once gets a lane per process (see lanes.py).
        self._lanes = Lanes(
            wait_max_s=account_wait_max_s,
            defer=lambda jobs, wait_s: durably(lambda: self._outcomes.defer(jobs, wait_s)),
        )

    async def __call__(
        self, message: c.DeviceChangeMessage, raw: AbstractIncomingMessage | None = None
    ) -> None:
        """Handle one device message: returns once its outcome is recorded."""
        await self._gatherer.submit(message.device_change_id)

    # ---- one batch ------------------------------------------------------------------------

    async def run_batch(self, ids: list[int]) -> dict[int, BaseException]:
        lease = Lease(owner=f"{self._owner}-{next(self._batches)}", duration_s=self._lease_s)
        async with held(self._sessionmaker, lease):
            return await self._run_batch(ids, lease)

    async def _run_batch(self, ids: list[int], lease: Lease) -> dict[int, BaseException]:
        started = await durably(lambda: start_batch(self._sessionmaker, ids, lease))
        units: list[Unit] = []
        # Per tenant: see the module's docstring.
        groups: dict[tuple[int, int, str, Hashable], list[Job]] = defaultdict(list)
        providers: dict[int, ServiceProvider] = {}
        to_check: dict[tuple[int, int, str], list[Job]] = defaultdict(list)
        for job, provider, resumed, tenant_id in started:
            providers[provider.id] = provider
            if job.spec.local:
                units.append(Unit([job], partial(self._run_local, job)))
                continue
            if resumed:
                to_check[(provider.id, tenant_id, job.op)].append(job)
                continue
            key = job.spec.key(job.params)
            # A job whose operation shares no request is a group of its own.
            group = job.device_change_id if key is None else key
            groups[(provider.id, tenant_id, job.op, group)].append(job)
        for (provider_id, _, _), jobs in to_check.items():
            provider = providers[provider_id]
            adapter = self._adapters.adapter(provider)
            lane = self._lanes.lane(provider, adapter)
            units.append(Unit(jobs, partial(self._run_resumed, adapter, jobs), lane))
        for (provider_id, _tenant, _op, _), jobs in groups.items():
            provider = providers[provider_id]
            adapter = self._adapters.adapter(provider)
            lane = self._lanes.lane(provider, adapter)
            units.extend(
                Unit(chunk, partial(self._run_group, adapter, chunk), lane)
                for chunk in self._chunks(adapter, jobs)
            )
        failed: dict[int, BaseException] = {}
        for jobs, outcome in await self._lanes.run(units):
            if unrecordable(outcome):
                try:
                    await durably(partial(fail_unrecordable, self._sessionmaker, jobs, outcome))
                    continue
                except Exception as exc:
                    outcome = exc
            log.error("recording an outcome failed; will be redelivered", error=repr(outcome))
            failed.update(dict.fromkeys(_ids(jobs), outcome))
        return failed

    # ---- carrier operations ---------------------------------------------------------------

    async def _run_group(self, adapter: CarrierAdapter, jobs: list[Job]) -> None:
        with bound(bulk_change_id=str(jobs[0].bulk_change_id), op=jobs[0].op, devices=len(jobs)):
            try:
                async with self._calls:
                    self.carrier_requests += 1
                    outcome = await send(adapter, jobs)
            except BudgetDeferred as exc:
                wait = exc.wait_s
                await durably(lambda: self._outcomes.defer(jobs, wait))
                return
            except CarrierError as exc:
                refused = exc
                if len(jobs) > 1 and names_a_device(refused):
                    log.info("carrier refused a gathered request; splitting", code=exc.code)
                    half = len(jobs) // 2
                    await asyncio.gather(
                        self._run_group(adapter, jobs[:half]),
                        self._run_group(adapter, jobs[half:]),
                    )
                    return
                await self._not_sent(jobs, refused)
                return
            if isinstance(outcome, AsyncRequestAccepted):
                accepted = outcome
                await durably(lambda: self._outcomes.accepted(jobs, accepted))
            else:
                answered = outcome
                await durably(lambda: self._outcomes.synchronous(jobs, answered))

    def _chunks(self, adapter: CarrierAdapter, jobs: list[Job]) -> list[list[Job]]:
        size = min(self._batch_max, devices_per_request(adapter, jobs[0].spec))
        return [jobs[i : i + size] for i in range(0, len(jobs), size)]

    async def _run_resumed(self, adapter: CarrierAdapter, jobs: list[Job]) -> None:
        """Attempts that may have reached the carrier: ask (one device list for many) before
        sending again; a failed check settles nothing and is retried (see resume), for the
        devices it failed for only."""
        with bound(bulk_change_id=str(jobs[0].bulk_change_id), devices=len(jobs)):
            try:
                views = await resume.check_many(adapter, jobs)
            except BudgetDeferred as exc:
                wait = exc.wait_s  # the check is a carrier request too
                await durably(lambda: self._outcomes.defer(jobs, wait))
                return
            except CarrierError as exc:
                await self._not_sent(jobs, exc)
                return
            unread: dict[int, tuple[CarrierError, list[Job]]] = {}
            checked: list[tuple[Job, resume.CarrierView]] = []
            for job, view in zip(jobs, views, strict=True):
                if isinstance(view, CarrierError):
                    unread.setdefault(id(view), (view, []))[1].append(job)
                else:
                    checked.append((job, view))
            for error, unread_jobs in unread.values():
                await self._not_sent(unread_jobs, error)
            to_send: dict[Hashable, list[Job]] = defaultdict(list)
            under_way = [(j, v) for j, v in checked if v.verdict == "pending"]
            resend = [(j, v) for j, v in checked if v.verdict == "not-done"]
            for job, view in checked:
                if view.verdict == "done":
                    await durably(lambda j=job, v=view: self.record_carrier_state(j, v))  # type: ignore[misc]
            await durably(lambda: record_under_way(self._sessionmaker, under_way))
            await durably(lambda: note_sent_again(self._sessionmaker, resend))
            for job, _ in resend:
                key = job.spec.key(job.params)
                to_send[key if key is not None else job.device_change_id].append(job)
            chunks = [c for js in to_send.values() for c in self._chunks(adapter, js)]
            if adapter.capabilities.rate_limit.concurrency is None:
                await asyncio.gather(*(self._run_group(adapter, c) for c in chunks))
                return
            for chunk in chunks:  # an account of few calls at once: one after the other
                await self._run_group(adapter, chunk)

    async def _not_sent(self, jobs: list[Job], refused: CarrierError) -> None:
        """The carrier refused (or could not be asked) for these jobs: retry those that may
        be, fail the others with the carrier's reason."""
        again = [j for j in jobs if self._retry.should_retry(refused, j.attempt, j.params)]
        done = [j for j in jobs if not self._retry.should_retry(refused, j.attempt, j.params)]
        await durably(lambda: self._outcomes.retry_later(again, refused))
        await durably(lambda: self._outcomes.failed(done, refused))

    async def record_carrier_state(self, job: Job, view: resume.CarrierView) -> None:
        """The carrier shows the operation done (or under way): record that, call nothing."""
        await record_carrier_state(self._sessionmaker, job, view)

    async def _run_local(self, job: Job) -> None:
        await durably(lambda: apply_local(self._sessionmaker, job))
