"""One email per completion: a bulk change whose failed devices were retried completes again
and its operator gets a second report, however often either event is delivered."""

from __future__ import annotations

import uuid

from notifier_helpers import SmtpSink, create_bulk_change, failed, success
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common import contracts as c
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.lifecycle import complete_bulk_change, finish_device_change
from devicebulk_common.models import BulkChange, DeviceChange, NotificationSent, OutboxMessage
from devicebulk_notifier.handler import CompletionHandler, Outcome


async def _events(
    sessionmaker: async_sessionmaker[AsyncSession], bulk_change_id: uuid.UUID
) -> list[c.BulkChangeCompleted]:
    async with sessionmaker() as session:
        bodies = await session.scalars(
            select(OutboxMessage.body)
            .where(
                OutboxMessage.routing_key == c.ROUTING_BULK_CHANGE_COMPLETED,
                OutboxMessage.body["bulk_change_id"].astext == str(bulk_change_id),
            )
            .order_by(OutboxMessage.id)
        )
        return [c.BulkChangeCompleted.model_validate(b) for b in bodies]


async def _retry_failed(
    sessionmaker: async_sessionmaker[AsyncSession], bulk_change_id: uuid.UUID
) -> list[int]:
    """What the intake's retry does to the rows: Failed → Queued, PROCESSING again."""
    async with unit_of_work(sessionmaker) as session:
        ids = list(
            await session.scalars(
                update(DeviceChange)
                .where(
                    DeviceChange.bulk_change_id == bulk_change_id,
                    DeviceChange.status == c.DeviceChangeStatus.FAILED.value,
                )
                .values(status=c.DeviceChangeStatus.QUEUED.value, error_code=None)
                .returning(DeviceChange.id)
            )
        )
        await session.execute(
            update(BulkChange)
            .where(BulkChange.id == bulk_change_id)
            .values(status="PROCESSING", remaining_count=len(ids), processed_at=None)
        )
    return ids


async def test_a_retried_bulk_change_that_completes_again_sends_a_second_email(
    notifier_handler: CompletionHandler,
    notifier_smtp: SmtpSink,
    notifier_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    bulk_change_id = await create_bulk_change(
        notifier_sessionmaker,
        results=[success(), failed("TIMEOUT", "no answer")],
        status=c.BulkChangeStatus.PROCESSING,
    )
    async with unit_of_work(notifier_sessionmaker) as session:
        assert await complete_bulk_change(session, bulk_change_id)
    (first,) = await _events(notifier_sessionmaker, bulk_change_id)
    assert first.completion_seq == 1
    assert await notifier_handler.handle(first) is Outcome.SENT

    (retried,) = await _retry_failed(notifier_sessionmaker, bulk_change_id)
    async with unit_of_work(notifier_sessionmaker) as session:
        await finish_device_change(session, retried, c.DeviceChangeStatus.SUCCESS)
    _, second = await _events(notifier_sessionmaker, bulk_change_id)
    assert second.completion_seq == 2

    assert await notifier_handler.handle(second) is Outcome.SENT
    # Redeliveries of either, and an event from before completion_seq existed, send nothing.
    legacy = c.BulkChangeCompleted.model_validate(
        first.model_dump(mode="json", exclude={"completion_seq"})
    )
    assert legacy.completion_seq == 1
    for event in (first, second, legacy):
        assert await notifier_handler.handle(event) is Outcome.ALREADY_SENT

    one, two = notifier_smtp.messages
    assert one["Subject"].endswith("processed: 1 succeeded, 1 failed")
    assert two["Subject"].endswith("processed: 2 succeeded, 0 failed")
    assert one["Message-ID"] != two["Message-ID"]
    async with notifier_sessionmaker() as session:
        sent = (
            await session.scalars(
                select(NotificationSent)
                .where(NotificationSent.bulk_change_id == bulk_change_id)
                .order_by(NotificationSent.completion_seq)
            )
        ).all()
    assert [(row.completion_seq, row.message_id) for row in sent] == [
        (1, one["Message-ID"]),
        (2, two["Message-ID"]),
    ]
