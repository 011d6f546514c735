"""An attempt that was interrupted (the process died, or its outcome could not be recorded)
may already have reached the carrier. Before repeating it, ask the carrier for the device's
state: if the operation already took effect, or is in flight, do not send it again.

How the carrier's view of a device shows an operation done or under way is the operation
spec's ``shown`` (a status change shows in the device's status, a plan change in its service
plan, a deletion in the device being gone). Operations it cannot show are repeated: a custom
field, cost center or place of use sent twice is the same change, and an identifier change is
sent for the device as the carrier knows it now (its ICCID and IMEI).

A read that fails (429, 5xx, 401) settles nothing: the error is marked ``outcome_unknown``,
so the attempt is retried and asks again; it is never taken as "not done". Many devices of one
account are checked with one list of the account (one request a page) rather than one request
a device; where devices are read one by one (a few of them, or the ones a search by
modification time did not show), a device whose read failed gets its error and the others
their verdicts: one unreadable device never holds back what the carrier showed of its neighbours.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devicebulk_common.carriers import CarrierAdapter, CarrierDevice, CarrierError
from devicebulk_common.operation_specs import SPECS, Verdict
from devicebulk_worker.operations import Job


@dataclass(frozen=True)
class CarrierView:
    verdict: Verdict
    device: CarrierDevice | None
    note: str


# From this many devices to check on one account, list the account (a page holds up to
# 2,000 devices) instead of asking once a device.
LIST_ACCOUNT_FROM = 8
# How far back a carrier that searches by modification time is asked (a day: far longer than
# an attempt's lease or the callback timeout, so every outcome the check is about is in it).
READ_BACK_WINDOW_S = 24 * 3600.0


def checkable(op: str) -> bool:
    spec = SPECS.get(op)
    return spec is not None and spec.shown is not None


# What the check of one job found: the carrier's view, or the error that kept it from being
# read (outcome_unknown: the job is retried, or failed if the error is final for the device).
Checked = CarrierView | CarrierError


async def check(adapter: CarrierAdapter, job: Job) -> CarrierView:
    """Raises CarrierError (outcome_unknown) when the carrier could not be asked."""
    if not checkable(job.op):
        return CarrierView("not-done", None, f"no state check for {job.op}; repeating it")
    try:
        found = [d async for d in adapter.list_devices(device=job.device)]
    except CarrierError as exc:
        exc.outcome_unknown = True  # still unknown: ask again next attempt
        raise
    return verdict(job, found[0] if found else None)


async def _check_one(adapter: CarrierAdapter, job: Job) -> Checked:
    try:
        return await check(adapter, job)
    except CarrierError as exc:
        return exc


class AccountList:
    """The account's device list, read once for every check that asks while it is read.

    A read starts ``gather_s`` after the first check asked for it. A check that asks before
    then, or while an earlier read is under way, waits for that next read, which starts after
    it asked (so it shows every outcome that check is about), and all of them share it: checks
    that arrive a few at a time (the batches of a worker restarted after a kill, the retries of
    several lost answers) cost one list of the account, not one each.
    """

    def __init__(self, gather_s: float = 1.0) -> None:
        self._gather_s = gather_s
        self._reading = asyncio.Lock()
        self._next: asyncio.Future[dict[str, CarrierDevice]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def read(self, adapter: CarrierAdapter) -> dict[str, CarrierDevice]:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._read(adapter, self._next))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(self._next)

    async def _read(
        self, adapter: CarrierAdapter, future: asyncio.Future[dict[str, CarrierDevice]]
    ) -> None:
        # The checks that come right after this one (the next batches of the same burst)
        # share its read: waiting a moment costs less than a list of the account each.
        await asyncio.sleep(self._gather_s)
        async with self._reading:
            self._next = None  # who asks from now on waits for the read after this one
            seen: dict[str, CarrierDevice] = {}
            try:
                async for device in adapter.list_devices():
                    iccid = device.ids.get("iccid")
                    if iccid:
                        seen[iccid] = device
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as exc:
                future.set_exception(exc)
                return
            future.set_result(seen)


# One a carrier adapter (that is, a carrier account) of this process.
_LISTS: weakref.WeakKeyDictionary[CarrierAdapter, AccountList] = weakref.WeakKeyDictionary()


async def check_many(adapter: CarrierAdapter, jobs: Sequence[Job]) -> list[Checked]:
    """One view (or the error of its read) a job, in order; one account list for many
    devices (shared with the checks of the same account that ask meanwhile, see
    :class:`AccountList`). A failed account list or search raises (one request: it settles
    nothing for any of them)."""
    wanted = [j for j in jobs if checkable(j.op)]
    if len(wanted) < LIST_ACCOUNT_FROM:
        return [await _check_one(adapter, j) for j in jobs]
    try:
        if adapter.capabilities.bulk_read == "device_list":
            seen: dict[str, CarrierDevice | CarrierError] = dict(
                await _LISTS.setdefault(adapter, AccountList()).read(adapter)
            )
        else:
            # The carrier reads many devices by what changed since: since the oldest of
            # these attempts could have reached it (their leases and timeouts are far shorter).
            since = datetime.now(UTC) - timedelta(seconds=READ_BACK_WINDOW_S)
            seen = await adapter.read_devices([j.device for j in wanted], since=since)
    except CarrierError as exc:
        exc.outcome_unknown = True
        raise
    out: list[Checked] = []
    for job in jobs:
        found = seen.get(job.device.iccid)
        if not checkable(job.op):
            out.append(CarrierView("not-done", None, f"no state check for {job.op}; repeating it"))
        elif isinstance(found, CarrierError):
            found.outcome_unknown = True
            out.append(found)
        else:
            out.append(verdict(job, found))
    return out


def verdict(job: Job, device: CarrierDevice | None) -> CarrierView:
    """What the carrier's view of the device (None: not listed) says about the job."""
    shown = SPECS[job.op].shown
    assert shown is not None
    found, note = shown(job.params, device)
    return CarrierView(found, device, note)
