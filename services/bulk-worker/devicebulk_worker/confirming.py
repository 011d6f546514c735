"""Records a confirmed result through its operation spec's one ``apply``: the synchronous
answer of a carrier, the resume check and the watchdog (both read the device back) and the
database-only operations all come here; the callback receiver calls the same ``apply``
(:mod:`devicebulk_common.reconciliation`). So every path writes the same device record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.lifecycle import Finish
from devicebulk_common.models import Device, DeviceChange
from devicebulk_common.operation_specs import SPECS, Confirmed, EffectRefused, NextPhase
from devicebulk_common.outbox.relay import notify_outbox
from devicebulk_common.reconciliation import queue_next_phase


@dataclass(frozen=True)
class Recorded:
    """What recording one confirmed result did: the terminal transition to make (None: the
    device change was queued for its next step, or was already terminal) and the audit text."""

    finish: Finish | None
    status: c.DeviceChangeStatus
    message: str


async def record(
    session: AsyncSession, dc: DeviceChange, device: Device | None, confirmed: Confirmed
) -> Recorded:
    """Apply the confirmed result to the (locked) device change and device, in memory."""
    op = (dc.params or {}).get("op", "")
    spec = SPECS[op]
    try:
        async with session.begin_nested():
            result = await spec.apply(session, device, dc, confirmed)
    except EffectRefused as refused:
        finish = Finish(dc.id, c.DeviceChangeStatus.FAILED, refused.code, refused.message)
        return Recorded(finish, finish.status, f"{refused.code}: {refused.message}")
    if isinstance(result, NextPhase):
        queue_next_phase(dc, result, held_for=None)
        await notify_outbox(session)
        return Recorded(None, c.DeviceChangeStatus.QUEUED, f"{result.note}; next: {result.phase}")
    finish = Finish(dc.id, c.DeviceChangeStatus.SUCCESS, result=result)
    return Recorded(finish, finish.status, f"{op} recorded" + (f": {result}" if result else ""))


async def locked(
    session: AsyncSession, device_change_ids: Sequence[int]
) -> list[tuple[DeviceChange, Device | None]]:
    """The device changes still open (not terminal) and their devices, locked in the one
    order every writer keeps: device changes by id, then devices by id."""
    changes = (
        await session.scalars(
            select(DeviceChange)
            .where(DeviceChange.id.in_(list(device_change_ids)))
            .order_by(DeviceChange.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    open_ = [dc for dc in changes if not c.DeviceChangeStatus(dc.status).is_terminal]
    device_ids = sorted({dc.device_id for dc in open_ if dc.device_id is not None})
    devices: dict[int, Device] = {}
    if device_ids:
        devices = {
            d.id: d
            for d in await session.scalars(
                select(Device)
                .where(Device.id.in_(device_ids))
                .order_by(Device.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        }
    return [(dc, devices.get(dc.device_id) if dc.device_id else None) for dc in open_]


async def record_many(
    session: AsyncSession,
    device_change_ids: Sequence[int],
    confirmed: Confirmed | Mapping[int, Confirmed],
) -> list[tuple[DeviceChange, Recorded]]:
    """``confirmed``: one for all, or one a device change id."""
    out = []
    for dc, device in await locked(session, device_change_ids):
        each = confirmed if isinstance(confirmed, Confirmed) else confirmed[dc.id]
        out.append((dc, await record(session, dc, device, each)))
    await session.flush()
    return out


def result_of(recorded: Recorded) -> dict[str, Any] | None:
    return recorded.finish.result if recorded.finish is not None else None
