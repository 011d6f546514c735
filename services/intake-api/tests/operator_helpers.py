"""Factories for the operator's views: bulk changes in any state, written straight to the
database (the submit path has its own tests). Named ``operator_*`` so no other test package's
helper module can shadow it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common import contracts as c
from devicebulk_common.models import BulkChange, DeviceChange, OutboxMessage
from devicebulk_devstack.testdata import make_iccid, unique_id

ACTIVATE = {
    "ServiceProviderId": 4,
    "ChangeType": 3,
    "StatusUpdate": {"TargetStatus": "Active"},
    "Devices": [],
}


def headers(tenant_id: int, user: str | None = "op@example.test") -> dict[str, str]:
    out = {"X-Tenant-Id": str(tenant_id)}
    if user is not None:
        out["X-User-Email"] = user
    return out


def result(status: str, **columns: Any) -> dict[str, Any]:
    """One device change's columns (``status`` plus any of error_code, attempts, ...)."""
    return {"status": status, **columns}


async def make_bulk_change(
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant_id: int,
    provider_id: int,
    results: Sequence[dict[str, Any]] = (),
    *,
    status: str | None = None,
    created_by: str | None = "jane@example.test",
    created_at: datetime | None = None,
    change_type: int = c.ChangeType.STATUS_UPDATE,
) -> tuple[uuid.UUID, list[int]]:
    """A bulk change with one device change per result, and its device change ids in order.

    Its counters agree with its rows: ``remaining_count`` is the number of non-terminal ones, and
    it is PROCESSED (completed once) when there are none, PROCESSING otherwise."""
    bulk_id = uuid.uuid4()
    remaining = sum(1 for r in results if not c.DeviceChangeStatus(r["status"]).is_terminal)
    status = status or (
        c.BulkChangeStatus.PROCESSING.value if remaining else c.BulkChangeStatus.PROCESSED.value
    )
    finished = status in (c.BulkChangeStatus.PROCESSED.value, c.BulkChangeStatus.ERROR.value)
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        session.add(
            BulkChange(
                id=bulk_id,
                tenant_id=tenant_id,
                service_provider_id=provider_id,
                change_type=int(change_type),
                status=status,
                request=ACTIVATE,
                created_by=created_by,
                notify_email=created_by,
                device_count=len(results),
                remaining_count=remaining,
                processed_at=now if finished else None,
                completion_seq=1 if finished else 0,
                **({"created_at": created_at} if created_at is not None else {}),
            )
        )
        await session.flush()
        ids: list[int] = []
        if results:
            base = unique_id() * 1000
            rows = [
                {
                    "bulk_change_id": bulk_id,
                    "iccid": make_iccid(base + i),
                    "attempts": 0,
                    "params": {"op": "activate"},
                    "published_at": now,
                    "completed_at": now if c.DeviceChangeStatus(r["status"]).is_terminal else None,
                    **r,
                }
                for i, r in enumerate(results)
            ]
            ids = list(
                (
                    await session.scalars(
                        insert(DeviceChange).returning(
                            DeviceChange.id, sort_by_parameter_order=True
                        ),
                        rows,
                    )
                ).all()
            )
    return bulk_id, ids


async def completion_events(
    sessionmaker: async_sessionmaker[AsyncSession], bulk_id: uuid.UUID
) -> list[c.BulkChangeCompleted]:
    """The ``bulk_change.completed`` events written to the outbox for this bulk change."""
    async with sessionmaker() as session:
        bodies = (
            await session.scalars(
                select(OutboxMessage.body)
                .where(
                    OutboxMessage.routing_key == c.ROUTING_BULK_CHANGE_COMPLETED,
                    OutboxMessage.body["bulk_change_id"].astext == str(bulk_id),
                )
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [c.BulkChangeCompleted.model_validate(b) for b in bodies]
