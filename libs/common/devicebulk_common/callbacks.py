"""Carrier callbacks: parse, store first (deduplicated), then reconcile into device records.

Reconciliation is correct in any order of events: the worker recording a request id and the
receiver storing a callback both take a transaction-scoped advisory lock on the request id and
then reconcile whatever callbacks of that request are stored and unprocessed. Whichever commits
second sees the other's work, so an early callback waits in ``carrier_callback`` until the
worker records the request id, and a duplicate finds its device change already terminal.

What a confirmed callback does to our records, per operation, is
:data:`devicebulk_common.callback_effects.EFFECTS`: it ends the device change, or (``NextPhase``)
queues it again for its next carrier request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.callback_effects import EFFECTS, EffectRefused, NextPhase
from devicebulk_common.lifecycle import audit, finish_device_change
from devicebulk_common.models import CarrierCallback, Device, DeviceChange
from devicebulk_common.outbox.relay import notify_outbox

ACTOR = "callback-receiver"


class MalformedCallback(ValueError):
    """The body is not a ThingSpace callback."""


@dataclass(frozen=True)
class ParsedCallback:
    request_id: str
    ok: bool
    device_ids: dict[str, str]
    response_key: str | None = None
    response_ids: dict[str, str] = field(default_factory=dict)
    fault_code: str | None = None
    fault_message: str | None = None
    username: str = ""
    password: str = ""
    callback_count: int = 1

    @property
    def iccid(self) -> str | None:
        return self.device_ids.get("iccid")

    def dedupe_key(self) -> str:
        """Same request, same device, same outcome: the same callback (callbackCount aside)."""
        ids = ",".join(f"{k}={v}" for k, v in sorted(self.device_ids.items()))
        raw = f"{self.request_id}|{ids}|{self.ok}|{self.response_key}|{self.fault_code}"
        return hashlib.sha256(raw.encode()).hexdigest()


def _ids(items: Any) -> dict[str, str]:
    if not isinstance(items, list):
        return {}
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("kind"), str) and "id" in item:
            out[item["kind"].lower()] = str(item["id"])
    return out


def parse_thingspace(payload: Any) -> ParsedCallback:
    if not isinstance(payload, dict):
        raise MalformedCallback("callback body must be a JSON object")
    request_id = payload.get("requestId")
    if not isinstance(request_id, str) or not request_id:
        raise MalformedCallback("callback has no requestId")
    device_ids = _ids(payload.get("deviceIds"))
    if not device_ids:
        raise MalformedCallback("callback has no deviceIds")
    fault = payload.get("faultResponse")
    status = str(payload.get("status", "")).lower()
    ok = status == "success" and not fault
    response_key: str | None = None
    response_ids: dict[str, str] = {}
    response = payload.get("deviceResponse")
    if isinstance(response, dict) and response:
        response_key = next(iter(response))
        inner = response[response_key]
        if isinstance(inner, dict):
            response_ids = _ids(inner.get("deviceIds"))
    fault_code = fault_message = None
    if isinstance(fault, dict):
        fault_code = str(fault.get("faultcode") or "") or None
        fault_message = str(fault.get("faultstring") or "") or None
    elif not ok:
        fault_code = "CallbackFailed"
        fault_message = f"carrier reported status {payload.get('status')!r}"
    count = payload.get("callbackCount")
    return ParsedCallback(
        request_id=request_id,
        ok=ok,
        device_ids=device_ids,
        response_key=response_key,
        response_ids=response_ids,
        fault_code=fault_code,
        fault_message=fault_message,
        username=str(payload.get("username") or ""),
        password=str(payload.get("password") or ""),
        callback_count=count if isinstance(count, int) else 1,
    )


def redacted(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: ("***" if k in ("username", "password") else v) for k, v in payload.items()}


async def store(
    session: AsyncSession, service_provider_id: int, parsed: ParsedCallback, payload: dict[str, Any]
) -> tuple[int, bool]:
    """Store a callback as received; a repeat only counts. Returns (id, first time seen)."""
    stmt = (
        insert(CarrierCallback)
        .values(
            service_provider_id=service_provider_id,
            dedupe_key=parsed.dedupe_key(),
            request_id=parsed.request_id,
            iccid=parsed.iccid,
            status="Success" if parsed.ok else "Failed",
            payload=redacted(payload),
        )
        .on_conflict_do_update(
            index_elements=[CarrierCallback.dedupe_key],
            set_={"times_received": CarrierCallback.times_received + 1},
        )
        .returning(CarrierCallback.id, CarrierCallback.times_received)
    )
    row = (await session.execute(stmt)).one()
    return row.id, row.times_received == 1


async def lock_request(session: AsyncSession, request_id: str, *, shared: bool = False) -> None:
    """Transaction-scoped lock on a carrier request id (see :func:`reconcile_request`)."""
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    await session.execute(
        text(f"SELECT {fn}(hashtext(:rid))"),
        {"rid": f"carrier-request:{request_id}"},
    )


async def reconcile_request(
    session: AsyncSession, request_id: str, *, callback_ids: Sequence[int] | None = None
) -> int:
    """Apply the stored, unprocessed callbacks of ``request_id`` whose device change is known
    (only ``callback_ids`` if given). Returns how many were applied.

    The caller holds :func:`lock_request`: exclusive to reconcile every callback of the
    request (the worker recording the request id, the sweeper), shared to reconcile only the
    callbacks it stored (the receiver), so the callbacks of one 10,000-device request are
    reconciled side by side, each locking only its own rows.
    """
    query = select(CarrierCallback).where(
        CarrierCallback.request_id == request_id, CarrierCallback.processed_at.is_(None)
    )
    if callback_ids is not None:
        query = query.where(CarrierCallback.id.in_(list(callback_ids)))
    callbacks = (
        await session.scalars(
            query.order_by(CarrierCallback.id).with_for_update(skip_locked=callback_ids is not None)
        )
    ).all()
    if not callbacks:
        return 0
    iccids = sorted({cb.iccid for cb in callbacks if cb.iccid})
    changes = (
        await session.scalars(
            select(DeviceChange)
            .where(DeviceChange.carrier_request_id == request_id, DeviceChange.iccid.in_(iccids))
            .order_by(DeviceChange.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    by_iccid = {dc.iccid: dc for dc in changes}
    only: DeviceChange | None = None
    if any(cb.iccid not in by_iccid for cb in callbacks):
        # A callback that names no ICCID we sent can still only mean a one-device request.
        candidates = (
            await session.scalars(
                select(DeviceChange)
                .where(DeviceChange.carrier_request_id == request_id)
                .limit(2)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).all()
        if not candidates:
            return 0  # the request id is not recorded yet: the worker reconciles it
        only = candidates[0] if len(candidates) == 1 else None
    applied = 0
    for cb in callbacks:
        dc = by_iccid.get(cb.iccid or "") or only
        if dc is None:
            cb.outcome = "no device change of this request has this device"
            cb.processed_at = func.now()  # type: ignore[assignment]
            continue
        await _apply(session, cb, dc)
        applied += 1
    return applied


async def _apply(session: AsyncSession, cb: CarrierCallback, dc: DeviceChange) -> None:
    parsed = parse_thingspace(cb.payload | {"username": "", "password": ""})
    cb.device_change_id = dc.id
    cb.processed_at = func.now()  # type: ignore[assignment]
    if c.DeviceChangeStatus(dc.status).is_terminal:
        cb.outcome = f"ignored: device change already {dc.status}"
        return
    op = (dc.params or {}).get("op", "")
    if parsed.ok:
        device = None
        if dc.device_id is not None:
            device = await session.get(Device, dc.device_id, with_for_update=True)
        effect = EFFECTS.get(op)
        try:
            result = await effect(session, device, dc, parsed) if effect else {}
        except EffectRefused as refused:
            await finish_device_change(
                session,
                dc.id,
                c.DeviceChangeStatus.FAILED,
                error_code=refused.code,
                error_message=refused.message,
            )
            cb.outcome = f"{op} confirmed by the carrier but not recorded: {refused.code}"
            message = f"carrier confirmed {op}; {refused.code}: {refused.message}"
            status = c.DeviceChangeStatus.FAILED
        else:
            if isinstance(result, NextPhase):
                await _queue_next_phase(session, dc, result)
                cb.outcome = f"{op} step confirmed; next: {result.phase}"
                message = f"carrier confirmed {op}: {result.note}; next: {result.phase}"
                status = c.DeviceChangeStatus.QUEUED
            else:
                await finish_device_change(
                    session, dc.id, c.DeviceChangeStatus.SUCCESS, result=result
                )
                cb.outcome = f"{op} succeeded"
                message = f"carrier confirmed {op}" + (f": {result}" if result else "")
                status = c.DeviceChangeStatus.SUCCESS
    else:
        await finish_device_change(
            session,
            dc.id,
            c.DeviceChangeStatus.FAILED,
            error_code=parsed.fault_code,
            error_message=parsed.fault_message,
        )
        cb.outcome = f"{op} failed: {parsed.fault_code}"
        message = f"{parsed.fault_code}: {parsed.fault_message}"
        status = c.DeviceChangeStatus.FAILED
    audit(
        session,
        bulk_change_id=dc.bulk_change_id,
        device_change_id=dc.id,
        step="callback",
        actor=ACTOR,
        status=status.value,
        message=message,
    )


async def _queue_next_phase(session: AsyncSession, dc: DeviceChange, step: NextPhase) -> None:
    """Queue the device change again for its next carrier request (published by the relay).

    The confirmed request's id is cleared (one carrier request id at a time: a late repeat of
    the old request's callbacks then matches nothing), and the attempts start again.
    """
    dc.params = {**(dc.params or {}), "phase": step.phase}
    dc.status = c.DeviceChangeStatus.QUEUED.value
    dc.carrier_request_id = None
    dc.published_at = None
    dc.attempts = 0
    if step.result is not None:
        dc.result = step.result
    await notify_outbox(session)
