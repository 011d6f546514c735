"""A batch of callbacks, applied in memory and written set-wise.

:class:`Reconciliation` gathers what a batch of callbacks does (terminal transitions, the
callbacks' outcomes, the audit rows) while the per-operation effects of
operation specs (:mod:`devicebulk_common.operation_specs`) record the
confirmed results, and writes each with one statement.
:func:`count_tries` counts the sweeper's tries of the callbacks left pending, and gives up on
those past the bound.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.callback_matching import ASK_FIRST, RECORDED_BY_CALLBACK
from devicebulk_common.lifecycle import Finish, finish_device_changes
from devicebulk_common.models import Device, DeviceChange
from devicebulk_common.operation_specs import SPECS, Confirmed, EffectRefused, NextPhase
from devicebulk_common.outbox.relay import notify_outbox

if TYPE_CHECKING:
    from devicebulk_common.callback_records import ParsedCallback


ACTOR = "callback-receiver"
# The device change params key of a next step held back (Queued, not yet published) until the
# other devices of its carrier request have their callbacks too: then the next step of the whole
# request goes out together and is gathered into one carrier request (not one request per
# trickle of callbacks). See :func:`release_held` and :func:`release_stale_holds`.
HELD_FOR = "held_for"

# The audit rows of a batch, with one statement whatever its size (one prepared statement).
_AUDIT = text(
    """
    INSERT INTO device_change_log (bulk_change_id, device_change_id, step, actor, status, message)
    SELECT v.bulk_change_id, v.device_change_id, 'callback', :actor, v.status, v.message
    FROM unnest(CAST(:bulk_change_ids AS uuid[]), CAST(:device_change_ids AS bigint[]),
                CAST(:statuses AS text[]), CAST(:messages AS text[]))
         AS v(bulk_change_id, device_change_id, status, message)
    """
)
_OUTCOMES = text(
    """
    UPDATE carrier_callback AS cb
    SET device_change_id = v.device_change_id, outcome = v.outcome, processed_at = now()
    FROM unnest(CAST(:ids AS bigint[]), CAST(:device_change_ids AS bigint[]),
                CAST(:outcomes AS text[])) AS v(id, device_change_id, outcome)
    WHERE cb.id = v.id
    """
)


@dataclass
class Reconciliation:
    """What reconciling a batch of callbacks does, gathered while the effects run in memory;
    :meth:`write` then writes it with one statement each. The first callback of a device change
    applies; another one in the same batch (a Failed then a Success, say) is ignored."""

    finishes: list[Finish] = field(default_factory=list)
    outcomes: list[tuple[int, int | None, str]] = field(default_factory=list)
    # (bulk change id, device change id, status, message) of each audit row.
    audit_rows: list[tuple[uuid.UUID, int, str, str]] = field(default_factory=list)
    # Device change id -> its status once this batch is written.
    handled: dict[int, str] = field(default_factory=dict)
    requeued: bool = False
    # Carrier request id -> the bulk changes whose next steps this batch held for it.
    held: dict[str, set[uuid.UUID]] = field(default_factory=dict)

    def unmatched(self, callback_id: int) -> None:
        self.outcomes.append(
            (callback_id, None, "no device change of this request has this device")
        )

    async def apply(
        self,
        session: AsyncSession,
        callback_id: int,
        cb: ParsedCallback,
        dc: DeviceChange,
        device: Device | None,
        *,
        note: str | None = None,
    ) -> None:
        """``note``: how the callback found its device change, if not by its request id; said
        in its outcome and audit row."""
        first = len(self.outcomes), len(self.audit_rows)
        await self._apply(callback_id, cb, dc, device, session)
        if note:
            for i in range(first[0], len(self.outcomes)):
                cid, dcid, outcome = self.outcomes[i]
                self.outcomes[i] = (cid, dcid, f"{outcome} ({note})")
            for i in range(first[1], len(self.audit_rows)):
                bid, dcid, status, message = self.audit_rows[i]
                self.audit_rows[i] = (bid, dcid, status, f"{message} ({note})")

    async def _apply(
        self,
        callback_id: int,
        cb: ParsedCallback,
        dc: DeviceChange,
        device: Device | None,
        session: AsyncSession,
    ) -> None:
        status = self.handled.get(dc.id, dc.status)
        if dc.id in self.handled or c.DeviceChangeStatus(status).is_terminal:
            self.outcomes.append((callback_id, dc.id, f"ignored: device change already {status}"))
            return
        op = (dc.params or {}).get("op", "")
        if not cb.ok and op == "activate" and cb.already_done:
            _queue_read_back(dc)  # the worker reads the device back from the carrier
            self.requeued = True
            self._record(
                callback_id,
                dc,
                c.DeviceChangeStatus.QUEUED,
                outcome=f"{op}: carrier says already active; reading the device back",
                message=f"{cb.fault_code}: {cb.fault_message}; reading the device back from "
                "the carrier's device list to record it (active, MSISDN, plan)",
            )
            return
        if not cb.ok:
            self._finish(
                callback_id,
                dc,
                Finish(dc.id, c.DeviceChangeStatus.FAILED, cb.fault_code, cb.fault_message),
                outcome=f"{op} failed: {cb.fault_code}",
                message=f"{cb.fault_code}: {cb.fault_message}",
            )
            return
        spec = SPECS.get(op)
        confirmed = Confirmed("callback", cb.response_ids)
        try:
            result = await spec.apply(session, device, dc, confirmed) if spec else {}
        except EffectRefused as refused:
            self._finish(
                callback_id,
                dc,
                Finish(dc.id, c.DeviceChangeStatus.FAILED, refused.code, refused.message),
                outcome=f"{op} confirmed by the carrier but not recorded: {refused.code}",
                message=f"carrier confirmed {op}; {refused.code}: {refused.message}",
            )
            return
        if isinstance(result, NextPhase):
            request_id = dc.carrier_request_id or cb.request_id
            queue_next_phase(dc, result, held_for=request_id)
            if request_id:
                self.held.setdefault(request_id, set()).add(dc.bulk_change_id)
            self.requeued = True
            self._record(
                callback_id,
                dc,
                c.DeviceChangeStatus.QUEUED,
                outcome=f"{op} step confirmed; next: {result.phase}",
                message=f"carrier confirmed {op}: {result.note}; next: {result.phase}",
            )
            return
        self._finish(
            callback_id,
            dc,
            Finish(dc.id, c.DeviceChangeStatus.SUCCESS, result=result),
            outcome=f"{op} succeeded",
            message=f"carrier confirmed {op}" + (f": {result}" if result else ""),
        )

    def _finish(
        self, callback_id: int, dc: DeviceChange, finish: Finish, *, outcome: str, message: str
    ) -> None:
        self.finishes.append(finish)
        self._record(callback_id, dc, finish.status, outcome=outcome, message=message)

    def _record(
        self,
        callback_id: int,
        dc: DeviceChange,
        status: c.DeviceChangeStatus,
        *,
        outcome: str,
        message: str,
    ) -> None:
        self.handled[dc.id] = status.value
        self.outcomes.append((callback_id, dc.id, outcome))
        self.audit_rows.append((dc.bulk_change_id, dc.id, status.value, message))

    async def write(self, session: AsyncSession) -> None:
        """The effects' changes (devices, re-queued device changes), then one statement each
        for the terminal transitions, the callbacks' outcomes and the audit rows."""
        await session.flush()
        await finish_device_changes(session, self.finishes)
        if self.outcomes:
            ids, device_change_ids, outcomes = zip(*self.outcomes, strict=True)
            await session.execute(
                _OUTCOMES,
                {
                    "ids": list(ids),
                    "device_change_ids": list(device_change_ids),
                    "outcomes": list(outcomes),
                },
            )
        if self.audit_rows:
            bulk_change_ids, device_change_ids, statuses, messages = zip(
                *self.audit_rows, strict=True
            )
            await session.execute(
                _AUDIT,
                {
                    "actor": ACTOR,
                    "bulk_change_ids": list(bulk_change_ids),
                    "device_change_ids": list(device_change_ids),
                    "statuses": list(statuses),
                    "messages": list(messages),
                },
            )
        if self.held:
            await release_held(session, self.held)
        if self.requeued:
            await notify_outbox(session)


def _queue_read_back(dc: DeviceChange) -> None:
    """Queue the device change again to be read back, not sent: the carrier says the device
    is already active, which is the requested state once the device list shows it."""
    dc.params = {**(dc.params or {}), ASK_FIRST: True}
    dc.status = c.DeviceChangeStatus.QUEUED.value
    dc.carrier_request_id = None
    dc.published_at = None


def queue_next_phase(dc: DeviceChange, step: NextPhase, *, held_for: str | None) -> None:
    """Queue the device change again for its next carrier request (published by the relay).

    The confirmed request's id is cleared (one carrier request id at a time: a late repeat of
    the old request's callbacks then matches nothing), and the attempts start again. With
    ``held_for`` (the confirmed request's id) it is held: Queued but not published, until
    :func:`release_held` finds no device of that request still awaiting its callback.
    """
    dc.params = {**(dc.params or {}), "phase": step.phase}
    dc.params.pop(RECORDED_BY_CALLBACK, None)  # the next request is recorded by the worker
    dc.status = c.DeviceChangeStatus.QUEUED.value
    dc.carrier_request_id = None
    dc.published_at = None
    dc.attempts = 0
    if held_for:
        dc.params = {**dc.params, HELD_FOR: held_for}
        dc.published_at = datetime.now(UTC)  # the relay publishes only unpublished rows
    if step.result is not None:
        dc.result = step.result


# One exclusive lock per request whose next steps are held (in a fixed order): two batches of
# one request's callbacks (the receiver reconciles them side by side under a shared lock) must
# not both see the other's devices still awaiting, and both hold.
_LOCK_HOLDS = text(
    "SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest(CAST(:keys AS text[])) AS t(k)"
)
_STILL_AWAITING = text(
    """
    SELECT DISTINCT carrier_request_id FROM device_change
    WHERE carrier_request_id = ANY(CAST(:request_ids AS text[])) AND status = 'AwaitingCallback'
    """
)
_RELEASE = text(
    """
    UPDATE device_change SET published_at = NULL, params = params - 'held_for'
    WHERE bulk_change_id = ANY(CAST(:bulk_change_ids AS uuid[])) AND status = 'Queued'
      AND params->>'held_for' = ANY(CAST(:request_ids AS text[]))
    """
)


async def release_held(session: AsyncSession, held: dict[str, set[uuid.UUID]]) -> int:
    """Publish the held next steps of each request none of whose devices still awaits its
    callback (this transaction's own changes flushed first). Returns how many were released.

    A device whose callback never comes keeps the others held only until
    :func:`release_stale_holds` (the worker's watchdog) lets them go."""
    await session.flush()
    await session.execute(_LOCK_HOLDS, {"keys": [f"held:{r}" for r in sorted(held)]})
    waiting = set((await session.scalars(_STILL_AWAITING, {"request_ids": sorted(held)})).all())
    done = [r for r in held if r not in waiting]
    if not done:
        return 0
    bulk_change_ids = sorted({b for r in done for b in held[r]})
    released = await session.execute(
        _RELEASE, {"bulk_change_ids": bulk_change_ids, "request_ids": done}
    )
    return int(released.rowcount)  # type: ignore[attr-defined]


_RELEASE_STALE = text(
    """
    UPDATE device_change SET published_at = NULL, params = params - 'held_for'
    WHERE bulk_change_id IN (SELECT id FROM bulk_change WHERE status = 'PROCESSING')
      AND status = 'Queued' AND params ? 'held_for'
      AND updated_at < now() - make_interval(secs => :older_than_s)
    """
)


async def release_stale_holds(session: AsyncSession, *, older_than_s: float) -> int:
    """Publish the next steps held longer than ``older_than_s`` (a device of their request
    whose callback never came, or another bulk change's devices in the same request).
    Returns how many; the caller notifies the relay."""
    released = await session.execute(_RELEASE_STALE, {"older_than_s": older_than_s})
    return int(released.rowcount)  # type: ignore[attr-defined]


_TRIED = text(
    """
    UPDATE carrier_callback AS cb
    SET reconcile_tries = cb.reconcile_tries + 1,
        processed_at = CASE WHEN cb.reconcile_tries + 1 >= :max_tries THEN now() END,
        outcome = CASE WHEN cb.reconcile_tries + 1 >= :max_tries
                       THEN 'gave up after ' || (cb.reconcile_tries + 1) || ' tries: ' || v.why
                       ELSE cb.outcome END
    FROM unnest(CAST(:ids AS bigint[]), CAST(:whys AS text[])) AS v(id, why)
    WHERE cb.id = v.id AND cb.processed_at IS NULL
    RETURNING cb.id, cb.processed_at IS NOT NULL AS gave_up
    """
)


async def count_tries(
    session: AsyncSession, waiting: dict[int, str], *, max_tries: int
) -> list[int]:
    """One more try for each callback still pending (id -> why); those that reach ``max_tries``
    are given up: processed, with the reason as their outcome. Returns the ids given up."""
    if not waiting:
        return []
    rows = await session.execute(
        _TRIED, {"ids": list(waiting), "whys": list(waiting.values()), "max_tries": max_tries}
    )
    return [row.id for row in rows if row.gave_up]
