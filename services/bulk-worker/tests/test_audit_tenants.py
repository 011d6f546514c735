"""Tenants sharing a carrier account: each tenant's audit trail names only its own devices."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from sqlalchemy import select
from worker_helpers import add_bulk_change

from devicebulk_common.models import DeviceChangeLog


async def test_tenant_b_audit_trail_never_names_tenant_a_devices(
    handler, factory, world, carrier, sessionmaker
):
    tenant_b = await factory.tenant()
    devices_b = await factory.devices(tenant_b, world.provider, 2, carrier_rate_plan="M2M_4G")
    await carrier.seed(
        [
            {"iccid": d.iccid, "imei": d.imei, "state": "preactive", "servicePlan": "M2M_4G"}
            for d in devices_b
        ]
    )
    world_b = SimpleNamespace(tenant=tenant_b, provider=world.provider, devices=devices_b)
    messages_a = await add_bulk_change(sessionmaker, world, "activate")
    messages_b = await add_bulk_change(sessionmaker, world_b, "activate")
    # Delivered together: one batch of the worker holds both tenants' device changes.
    await asyncio.gather(*(handler(m) for m in messages_a + messages_b))
    async with sessionmaker() as s:
        rows_b = (
            await s.scalars(
                select(DeviceChangeLog).where(
                    DeviceChangeLog.bulk_change_id == messages_b[0].bulk_change_id
                )
            )
        ).all()
    texts_b = " ".join(f"{r.request_text or ''} {r.response_text or ''}" for r in rows_b)
    assert all(d.iccid in texts_b for d in devices_b)  # B's own exchange is there
    assert not [d.iccid for d in world.devices if d.iccid in texts_b]
