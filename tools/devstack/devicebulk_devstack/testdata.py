"""Valid, deterministic device identifiers for demos and tests, and a bulk change under way."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.identifiers import luhn_complete
from devicebulk_common.models import BulkChange, Device, DeviceChange

_ids = itertools.count(1000)


def unique_id() -> int:
    """An id no other caller in this process (or another process) is likely to use."""
    return next(_ids) + (os.getpid() % 1000) * 100_000


def make_iccid(n: int, prefix: str = "891480") -> str:
    """A 19-digit ICCID that passes its Luhn check."""
    return luhn_complete(f"{prefix}{n:012d}")


def make_imei(n: int) -> str:
    """A 15-digit IMEI that passes its Luhn check."""
    return luhn_complete(f"35693803{n:06d}")


async def add_bulk_change(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    tenant_id: int,
    service_provider_id: int,
    devices: Sequence[Device],
    status: str,
    params: dict[str, Any],
    request: dict[str, Any] | None = None,
    **change: Any,
) -> tuple[uuid.UUID, list[DeviceChange]]:
    """A bulk change under way (``PROCESSING``) with one device change per device, each in
    ``status`` (``change`` sets further device-change columns, e.g. ``carrier_request_id``)."""
    bulk_id = uuid.uuid4()
    async with sessionmaker() as s, s.begin():
        s.add(
            BulkChange(
                id=bulk_id,
                tenant_id=tenant_id,
                service_provider_id=service_provider_id,
                change_type=3,
                status="PROCESSING",
                request=request or {},
                device_count=len(devices),
                remaining_count=len(devices),
            )
        )
        await s.flush()
        changes = [
            DeviceChange(
                bulk_change_id=bulk_id,
                device_id=d.id,
                iccid=d.iccid,
                status=status,
                params=params,
                **change,
            )
            for d in devices
        ]
        s.add_all(changes)
    return bulk_id, changes
