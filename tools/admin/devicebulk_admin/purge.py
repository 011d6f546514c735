"""`purge --older-than 90d`: let go of what only grows, in small batches.

Older than the horizon, and never of a bulk change still in flight (``NEW`` or ``PROCESSING``):

- published outbox rows (events and retries RabbitMQ already has) are deleted;
- reconciled callbacks (``processed_at`` set) are deleted;
- the carrier request and response texts of audit rows are blanked (``NULL``); the rows stay,
  with who, what step, when, the status, the message and the HTTP status.

Bulk changes and device changes are never touched: every summary stays. Each batch is one short
transaction over at most ``batch_size`` rows picked with ``FOR UPDATE SKIP LOCKED`` (a row
another transaction holds is left for the next run, never waited for), walking each table by
its primary key up to the newest row older than the horizon, with a short ``lock_timeout``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from devicebulk_admin.durations import describe
from devicebulk_admin.runtime import Sessionmaker
from devicebulk_common.db.engine import unit_of_work

_IN_FLIGHT = "b.status IN ('NEW', 'PROCESSING')"
_UUID = r"'^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$'"


@dataclass(frozen=True)
class _Target:
    table: str
    age_column: str  # what "older than the horizon" is measured on
    batch: str  # one batch: ids > :after and <= :upto, older than :horizon, :limit of them


_OUTBOX = _Target(
    "outbox_message",
    "published_at",
    f"""
    WITH batch AS (
        SELECT o.id FROM outbox_message o
        WHERE o.id > :after AND o.id <= :upto
          AND o.published_at IS NOT NULL AND o.published_at < :horizon
          AND NOT EXISTS (
            SELECT 1 FROM bulk_change b
            WHERE {_IN_FLIGHT} AND b.id = CASE WHEN o.body->>'bulk_change_id' ~ {_UUID}
                                               THEN (o.body->>'bulk_change_id')::uuid END)
        ORDER BY o.id LIMIT :limit
        FOR UPDATE OF o SKIP LOCKED
    )
    DELETE FROM outbox_message WHERE id IN (SELECT id FROM batch) RETURNING id
    """,  # noqa: S608 - built from constants only; values are bind parameters
)
_CALLBACKS = _Target(
    "carrier_callback",
    "received_at",
    f"""
    WITH batch AS (
        SELECT c.id FROM carrier_callback c
        WHERE c.id > :after AND c.id <= :upto
          AND c.processed_at IS NOT NULL AND c.processed_at < :horizon
          AND c.received_at < :horizon
          AND NOT EXISTS (
            SELECT 1 FROM device_change d JOIN bulk_change b ON b.id = d.bulk_change_id
            WHERE d.id = c.device_change_id AND {_IN_FLIGHT})
        ORDER BY c.id LIMIT :limit
        FOR UPDATE OF c SKIP LOCKED
    )
    DELETE FROM carrier_callback WHERE id IN (SELECT id FROM batch) RETURNING id
    """,  # noqa: S608 - built from constants only; values are bind parameters
)
_AUDIT = _Target(
    "device_change_log",
    "created_at",
    f"""
    WITH batch AS (
        SELECT l.id FROM device_change_log l
        WHERE l.id > :after AND l.id <= :upto AND l.created_at < :horizon
          AND (l.request_text IS NOT NULL OR l.response_text IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM bulk_change b WHERE b.id = l.bulk_change_id
                          AND {_IN_FLIGHT})
        ORDER BY l.id LIMIT :limit
        FOR UPDATE OF l SKIP LOCKED
    )
    UPDATE device_change_log l SET request_text = NULL, response_text = NULL
    FROM batch WHERE l.id = batch.id RETURNING l.id
    """,  # noqa: S608 - built from constants only; values are bind parameters
)
TARGETS = (_OUTBOX, _CALLBACKS, _AUDIT)


@dataclass(frozen=True)
class PurgeResult:
    older_than: str
    horizon: datetime
    batch_size: int
    outbox_deleted: int
    callbacks_deleted: int
    audit_texts_blanked: int
    batches: int

    def summary(self) -> str:
        return (
            f"purged what is older than {self.older_than} (before "
            f"{self.horizon.isoformat(timespec='seconds')}): {self.outbox_deleted} published "
            f"outbox rows deleted, {self.callbacks_deleted} reconciled callbacks deleted, "
            f"{self.audit_texts_blanked} audit rows' carrier texts blanked; {self.batches} "
            f"batches of at most {self.batch_size} rows; bulk changes, device changes and "
            "audit summaries kept"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def _purge(
    sessionmaker: Sessionmaker, target: _Target, *, horizon: datetime, batch_size: int
) -> tuple[int, int]:
    """Rows done and batches run for one table."""
    async with sessionmaker() as session:
        # The newest row old enough: the walk by primary key stops there (one scan, no lock).
        upto = await session.scalar(
            text(f"SELECT max(id) FROM {target.table} WHERE {target.age_column} < :horizon"),  # noqa: S608
            {"horizon": horizon},
        )
    if upto is None:
        return 0, 0
    done = batches = 0
    after = 0
    statement = text(target.batch)
    while True:
        async with unit_of_work(sessionmaker) as session:
            await session.execute(text("SET LOCAL lock_timeout = '5s'"))
            ids = (
                await session.scalars(
                    statement,
                    {"after": after, "upto": upto, "horizon": horizon, "limit": batch_size},
                )
            ).all()
        if ids:
            batches += 1
            done += len(ids)
            after = max(ids)
        if len(ids) < batch_size:  # the walk reached ``upto`` (locked rows wait for next time)
            return done, batches


async def purge(
    sessionmaker: Sessionmaker,
    *,
    older_than: timedelta,
    batch_size: int,
    now: datetime | None = None,
) -> PurgeResult:
    horizon = (now or datetime.now(UTC)) - older_than
    counts: list[int] = []
    batches = 0
    for target in TARGETS:
        done, runs = await _purge(sessionmaker, target, horizon=horizon, batch_size=batch_size)
        counts.append(done)
        batches += runs
    return PurgeResult(
        older_than=describe(older_than),
        horizon=horizon,
        batch_size=batch_size,
        outbox_deleted=counts[0],
        callbacks_deleted=counts[1],
        audit_texts_blanked=counts[2],
        batches=batches,
    )
