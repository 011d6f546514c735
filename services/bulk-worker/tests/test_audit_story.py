"""The audit trail tells one story: who settled a device, and why one was sent again."""

from __future__ import annotations

from sqlalchemy import select
from worker_helpers import add_bulk_change

from devicebulk_common.models import DeviceChangeLog

ACTIVATE = "POST /api/m2m/v1/devices/actions/activate"


async def _messages(sessionmaker, device_change_id: int) -> list[str]:
    async with sessionmaker() as s:
        return list(
            (
                await s.scalars(
                    select(DeviceChangeLog.message)
                    .where(DeviceChangeLog.device_change_id == device_change_id)
                    .order_by(DeviceChangeLog.id)
                )
            ).all()
        )


async def test_a_device_sent_again_says_why(handler, sessionmaker, world, carrier):
    # The last attempt died before its outcome was recorded; the carrier shows it not done.
    (message, *_) = await add_bulk_change(
        sessionmaker, world, "activate", devices=world.devices[:1], status="Processing"
    )
    before = await carrier.calls(ACTIVATE)
    await handler(message)
    assert await carrier.calls(ACTIVATE) == before + 1
    notes = await _messages(sessionmaker, message.device_change_id)
    assert any(n and n.startswith("sent again: the carrier shows attempt") for n in notes)


async def test_a_device_the_check_finds_done_names_who_settled_it(
    handler, sessionmaker, world, carrier
):
    device = world.devices[0]
    await carrier.seed(
        [
            {
                "iccid": device.iccid,
                "imei": device.imei,
                "state": "active",
                "servicePlan": "M2M_4G",
                "mdn": "5551230000",
            }
        ]
    )
    (message, *_) = await add_bulk_change(
        sessionmaker, world, "activate", devices=[device], status="Processing"
    )
    await handler(message)
    notes = await _messages(sessionmaker, message.device_change_id)
    settled = [n for n in notes if n and "settled by" in n]
    assert len(settled) == 1 and "resume check" in settled[0]
