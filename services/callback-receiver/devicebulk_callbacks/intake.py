"""Store a callback first, then reconcile it (see devicebulk_common.callbacks).

:class:`CallbackIntake` is the receiver's pipeline: callbacks are group-committed
(``group_commit``), each request answered once its own callback is stored, and the stored
callbacks reconciled in batches in the background (``reconciler``). :func:`sweep` reconciles
what was stored but never reconciled (the process died in between, or reconciling failed).
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_callbacks.group_commit import GroupCommit, StoreFn
from devicebulk_callbacks.reconciler import Reconciler
from devicebulk_common.callback_records import ParsedCallback
from devicebulk_common.callbacks import (
    Received,
    Stored,
    store_many,
)

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
