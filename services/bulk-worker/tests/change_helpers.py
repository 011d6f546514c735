"""Helpers for the change-type tests: bulk changes with per-device params as intake writes
them, a callback sink that stores and reconciles what the simulator sends (as the
callback-receiver does), and waiting for device changes to settle."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse

from devicebulk_common import contracts as c
from devicebulk_common.callbacks import lock_request, reconcile_request, store
from devicebulk_common.carriers.thingspace_callbacks import parse as parse_thingspace
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import BulkChange, Device, DeviceChange, DeviceChangeLog


class CallbackSink:
    """``POST /cb/{provider_id}``: store the callback, then reconcile it."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.url = ""
        self.received: list[dict[str, Any]] = []

    async def endpoint(self, request: Request) -> JSONResponse:
        payload = await request.json()
        await deliver(self.sessionmaker, int(request.path_params["provider"]), payload)
        self.received.append(payload)
        return JSONResponse({"ok": True})


async def deliver(sessionmaker, provider_id: int, payload: dict[str, Any]) -> None:
    """What the callback-receiver does with one callback body."""
    parsed = parse_thingspace(payload)
    async with unit_of_work(sessionmaker) as s:
        callback_id, _ = await store(s, provider_id, parsed, payload)
    async with unit_of_work(sessionmaker) as s:
        await lock_request(s, parsed.request_id, shared=True)
        await reconcile_request(s, parsed.request_id, callback_ids=[callback_id])


async def add_changes(
    sessionmaker,
    world,
    change_type: c.ChangeType,
    params: Sequence[tuple[Device, dict[str, Any]]],
    request: dict[str, Any] | None = None,
) -> list[c.DeviceChangeMessage]:
    """One bulk change, one Queued device change per (device, params)."""
    bulk_id = uuid.uuid4()
    async with sessionmaker() as s, s.begin():
        s.add(
            BulkChange(
                id=bulk_id,
                tenant_id=world.tenant.id,
                service_provider_id=world.provider.id,
                change_type=change_type.value,
                status="PROCESSING",
                device_count=len(params),
                remaining_count=len(params),
                request=request or {"ChangeType": change_type.value},
            )
        )
        await s.flush()
        changes = [
            DeviceChange(
                bulk_change_id=bulk_id,
                device_id=device.id if device is not None else None,
                iccid=device.iccid if device is not None else "89148000000000000000",
                status=c.DeviceChangeStatus.QUEUED.value,
                params=p,
            )
            for device, p in params
        ]
        s.add_all(changes)
    return [c.DeviceChangeMessage(device_change_id=dc.id, bulk_change_id=bulk_id) for dc in changes]


async def run(handler, messages: Sequence[c.DeviceChangeMessage]) -> None:
    """Deliver the messages together, as a consumer with prefetch would (one gathered batch)."""
    await asyncio.gather(*(handler(m) for m in messages))


async def changes_of(sessionmaker, messages: Sequence[c.DeviceChangeMessage]) -> list[DeviceChange]:
    ids = [m.device_change_id for m in messages]
    async with sessionmaker() as s:
        rows = (await s.scalars(select(DeviceChange).where(DeviceChange.id.in_(ids)))).all()
    by_id = {r.id: r for r in rows}
    return [by_id[i] for i in ids]


async def settle(
    sessionmaker,
    messages: Sequence[c.DeviceChangeMessage],
    *,
    until: frozenset[str] = frozenset({"Success", "Failed"}),
    timeout_s: float = 5.0,
) -> list[DeviceChange]:
    """Wait until every device change is in one of ``until`` (the callbacks reconciled)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        changes = await changes_of(sessionmaker, messages)
        if all(dc.status in until for dc in changes):
            return changes
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not settled: {[(dc.id, dc.status) for dc in changes]}")
        await asyncio.sleep(0.02)


async def devices_by_id(sessionmaker, ids: Sequence[int]) -> dict[int, Device]:
    async with sessionmaker() as s:
        rows = (await s.scalars(select(Device).where(Device.id.in_(list(ids))))).all()
    return {d.id: d for d in rows}


async def steps_of(sessionmaker, device_change_id: int) -> list[DeviceChangeLog]:
    async with sessionmaker() as s:
        return list(
            (
                await s.scalars(
                    select(DeviceChangeLog)
                    .where(DeviceChangeLog.device_change_id == device_change_id)
                    .order_by(DeviceChangeLog.id)
                )
            ).all()
        )
