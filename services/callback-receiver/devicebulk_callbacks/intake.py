"""Store a callback first, then reconcile it (see devicebulk_common.callbacks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.callbacks import (
    ParsedCallback,
    lock_request,
    reconcile_request,
    store,
)
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import CarrierCallback, DeviceChange

log = structlog.get_logger(__name__)


async def accept(
    sessionmaker: async_sessionmaker[AsyncSession],
    provider_id: int,
    parsed: ParsedCallback,
    payload: dict[str, Any],
) -> bool:
    """Returns whether this was the first time this callback was seen."""
    async with unit_of_work(sessionmaker) as session:
        callback_id, first = await store(session, provider_id, parsed, payload)
    try:
        async with unit_of_work(sessionmaker) as session:
            # Shared: the other callbacks of the same request are reconciled side by side.
            await lock_request(session, parsed.request_id, shared=True)
            await reconcile_request(session, parsed.request_id, callback_ids=[callback_id])
    except Exception:
        # Stored: the sweeper reconciles it later. The carrier still gets its 2xx.
        log.exception("reconciling a stored callback failed", request_id=parsed.request_id)
    return first


async def sweep(sessionmaker: async_sessionmaker[AsyncSession], *, older_than_s: float) -> int:
    """Reconcile stored callbacks whose request is now known but that are still unprocessed."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    async with sessionmaker() as session:
        request_ids = (
            await session.scalars(
                select(CarrierCallback.request_id)
                .where(
                    CarrierCallback.processed_at.is_(None),
                    CarrierCallback.received_at < cutoff,
                    CarrierCallback.request_id.in_(
                        select(DeviceChange.carrier_request_id).where(
                            DeviceChange.carrier_request_id.is_not(None)
                        )
                    ),
                )
                .distinct()
                .limit(500)
            )
        ).all()
    applied = 0
    for request_id in request_ids:
        if request_id is None:
            continue
        async with unit_of_work(sessionmaker) as session:
            await lock_request(session, request_id)
            applied += await reconcile_request(session, request_id)
    if applied:
        log.info("sweeper reconciled callbacks", count=applied)
    return applied
