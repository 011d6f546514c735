"""Store a callback first, then reconcile it (see devicebulk_common.callbacks).

:class:`CallbackIntake` is the receiver's pipeline: callbacks are group-committed
(``group_commit``), each request answered once its own callback is stored, and the stored
callbacks reconciled in batches in the background (``reconciler``). :func:`sweep` reconciles
what was stored but never reconciled (the process died in between, or reconciling failed).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_callbacks.group_commit import GroupCommit, StoreFn
from devicebulk_callbacks.reconciler import Reconciler
from devicebulk_common.callbacks import (
    ParsedCallback,
    Received,
    Stored,
    lock_request,
    reconcile_request,
    store_many,
)
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import CarrierCallback, DeviceChange

log = structlog.get_logger(__name__)


class CallbackIntake:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        batch_wait_s: float,
        batch_max: int,
        reconcile_max: int,
        reconcile_wait_s: float,
        store: StoreFn = store_many,
    ) -> None:
        self.reconciler = Reconciler(sessionmaker, max_size=reconcile_max, wait_s=reconcile_wait_s)
        self.group_commit = GroupCommit(
            sessionmaker,
            wait_s=batch_wait_s,
            max_size=batch_max,
            on_stored=self.reconciler.submit,
            store=store,
        )

    def start(self) -> None:
        self.reconciler.start()

    async def accept(
        self, provider_id: int, parsed: ParsedCallback, payload: dict[str, Any]
    ) -> Stored:
        """Returns once the callback is stored (raises ``StoreFailed`` if it could not be);
        it is reconciled after that, in the background."""
        return await self.group_commit.submit(Received(provider_id, parsed, payload))

    async def settled(self) -> None:
        """Everything accepted so far is reconciled (or left to the sweeper)."""
        await self.reconciler.settled()

    async def close(self) -> None:
        """Store what is pending, then reconcile everything stored (graceful shutdown)."""
        await self.group_commit.close()
        await self.reconciler.close()


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
