"""Per-tenant limits on submits: how many a minute, and how many devices in flight at once.

Both are read from the committed bulk changes (no counter to drift), under a per-tenant
advisory lock held to the end of the submit's transaction, so two concurrent submits of one
tenant cannot both slip under a limit.
"""

from __future__ import annotations

import math

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.models import BulkChange
from devicebulk_intake.errors import TooManyRequests

LOCK_NAMESPACE = 0x1D7A  # pg_advisory_xact_lock(namespace, tenant id): "intake submit quotas"
WINDOW_S = 60
IN_FLIGHT = (c.BulkChangeStatus.NEW.value, c.BulkChangeStatus.PROCESSING.value)


async def check(
    session: AsyncSession,
    tenant_id: int,
    devices: int,
    *,
    submits_per_minute: int,
    max_devices_in_flight: int,
) -> None:
    """Raise :class:`TooManyRequests` (with ``Retry-After``) when this submit of ``devices``
    devices would pass one of the tenant's limits."""
    await session.execute(select(func.pg_advisory_xact_lock(LOCK_NAMESPACE, tenant_id)))
    window = (
        await session.execute(
            select(
                func.count(),
                func.extract("epoch", func.now() - func.min(BulkChange.created_at)),
            ).where(
                BulkChange.tenant_id == tenant_id,
                BulkChange.created_at > func.now() - func.make_interval(0, 0, 0, 0, 0, 0, WINDOW_S),
            )
        )
    ).one()
    count, oldest_age = window
    if count >= submits_per_minute:
        wait = max(1, math.ceil(WINDOW_S - float(oldest_age or 0)))
        raise TooManyRequests(
            f"Tenant {tenant_id} submitted {count} bulk changes in the last minute; the "
            f"limit is {submits_per_minute}. Try again in {wait} s.",
            retry_after=wait,
        )
    in_flight = await session.scalar(
        select(func.coalesce(func.sum(BulkChange.remaining_count), 0)).where(
            BulkChange.tenant_id == tenant_id, BulkChange.status.in_(IN_FLIGHT)
        )
    )
    if int(in_flight or 0) + devices > max_devices_in_flight:
        raise TooManyRequests(
            f"Tenant {tenant_id} has {in_flight} devices in flight; {devices} more would pass "
            f"the limit of {max_devices_in_flight}. Try again once some have finished.",
            retry_after=WINDOW_S,
        )
