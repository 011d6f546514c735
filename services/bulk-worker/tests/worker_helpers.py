"""Bulk changes for the worker's tests, written as intake would."""

from __future__ import annotations

from devicebulk_common import contracts as c
from devicebulk_common.models import Device
from devicebulk_devstack import testdata


async def add_bulk_change(
    sessionmaker,
    world,
    op: str,
    request: dict | None = None,
    *,
    devices: list[Device] | None = None,
    status: str = c.DeviceChangeStatus.QUEUED.value,
    params: dict | None = None,
) -> list[c.DeviceChangeMessage]:
    bulk_id, changes = await testdata.add_bulk_change(
        sessionmaker,
        tenant_id=world.tenant.id,
        service_provider_id=world.provider.id,
        devices=devices or world.devices,
        status=status,
        params={"op": op, "service_plan": "M2M_4G", **(params or {})},
        request=request
        or {
            "StatusUpdate": {
                "TargetStatus": "Active",
                "ThingSpaceStatusUpdate": {"ZipCode": "92127"},
            }
        },
    )
    return [c.DeviceChangeMessage(device_change_id=dc.id, bulk_change_id=bulk_id) for dc in changes]


def credentials(account: str) -> dict[str, str]:
    """Each simulator account has its own API user (the session names the account)."""
    return {
        "client_key": f"k-{account}",
        "client_secret": "ws",
        "username": f"u-{account}",
        "password": "wp-secret",
    }


async def outbox_for(sessionmaker, device_change_id: int):
    """The outbox messages written for one device change (retries, dead letters)."""
    from sqlalchemy import select

    from devicebulk_common.models import OutboxMessage

    async with sessionmaker() as s:
        rows = (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    return [r for r in rows if r.body.get("device_change_id") == device_change_id]
