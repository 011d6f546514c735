"""purge on a database of its own (it purges the whole database): exactly the old published
outbox rows, the old reconciled callbacks and the old audit texts go, in batches; summaries,
live rows and everything of a bulk change in flight stay."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from devicebulk_admin.cli import main
from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.models import (
    BulkChange,
    CarrierCallback,
    DeviceChange,
    DeviceChangeLog,
    OutboxMessage,
)

OLD = datetime.now(UTC) - timedelta(days=100)
RECENT = datetime.now(UTC) - timedelta(days=5)


@pytest.fixture
async def db(private_database_url: str) -> AsyncIterator[tuple[str, Any]]:
    engine = create_engine(private_database_url, pool_size=3, application_name="tests")
    yield private_database_url, create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def cli(capsys):
    async def run(url: str, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, [*args, "--database-url", url])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def private_factory(db, credentials_key, pytestconfig):
    root = pytestconfig.pluginmanager.get_plugin(str(pytestconfig.rootpath / "conftest.py"))
    return root.Factory(db[1], credentials_key)


def _outbox(bulk_id: uuid.UUID, n: int, *, published: datetime | None, created=OLD) -> list:
    return [
        OutboxMessage(
            exchange="devicebulk.events",
            routing_key="bulk_change.completed",
            body={"v": 1, "bulk_change_id": str(bulk_id)},
            created_at=created,
            published_at=published,
        )
        for _ in range(n)
    ]


def _callbacks(provider_id: int, change: DeviceChange, n: int, *, at, processed) -> list:
    return [
        CarrierCallback(
            service_provider_id=provider_id,
            dedupe_key=uuid.uuid4().hex,
            request_id=f"req-{change.id}",
            iccid=change.iccid,
            status="Success",
            payload={"requestId": f"req-{change.id}", "status": "Success"},
            received_at=at,
            processed_at=processed,
            device_change_id=change.id,
            outcome="applied",
        )
        for _ in range(n)
    ]


def _audit(bulk_id: uuid.UUID, change: DeviceChange, n: int, *, at: datetime) -> list:
    return [
        DeviceChangeLog(
            bulk_change_id=bulk_id,
            device_change_id=change.id,
            step="carrier_request",
            actor="bulk-worker",
            status="Success",
            message="activate accepted",
            http_method="POST",
            http_url="/devices/actions/activate",
            http_status=200,
            request_text='{"devices": ["..."]}',
            response_text='{"requestId": "r"}',
            created_at=at,
        )
        for _ in range(n)
    ]


async def _world(factory, sessionmaker):
    """Bulk change ``done`` (PROCESSED) and ``live`` (PROCESSING, awaiting callbacks)."""
    tenant = await factory.tenant()
    provider = await factory.provider()
    devices = await factory.devices(tenant, provider, 4)
    done, done_changes = await factory.bulk_change(tenant, provider, devices[:2], status="Success")
    live, live_changes = await factory.bulk_change(
        tenant, provider, devices[2:], status="AwaitingCallback"
    )
    async with sessionmaker() as s, s.begin():
        await s.execute(
            update(BulkChange)
            .where(BulkChange.id == done)
            .values(status="PROCESSED", remaining_count=0, created_at=OLD, processed_at=OLD)
        )
        await s.execute(update(BulkChange).where(BulkChange.id == live).values(created_at=OLD))
    return provider, (done, done_changes[0]), (live, live_changes[0])


async def _count(sessionmaker, statement) -> int:
    async with sessionmaker() as s:
        return int(await s.scalar(statement))


async def test_purge_removes_exactly_the_old_finished_rows_in_batches_and_keeps_summaries(
    db, cli, private_factory
) -> None:
    url, sessionmaker = db
    provider, (done, done_change), (live, live_change) = await _world(private_factory, sessionmaker)
    async with sessionmaker() as s, s.begin():
        s.add_all(_outbox(done, 35, published=OLD))  # go
        s.add_all(_outbox(live, 5, published=OLD))  # in flight: stay
        s.add_all(_outbox(done, 3, published=None))  # never published: stay
        s.add_all(_outbox(done, 4, published=RECENT, created=RECENT))  # recent: stay
        s.add_all(_callbacks(provider.id, done_change, 12, at=OLD, processed=OLD))  # go
        s.add_all(_callbacks(provider.id, live_change, 3, at=OLD, processed=OLD))  # stay
        s.add_all(_callbacks(provider.id, done_change, 2, at=OLD, processed=None))  # stay
        s.add_all(_callbacks(provider.id, done_change, 2, at=RECENT, processed=RECENT))  # stay
        s.add_all(_audit(done, done_change, 20, at=OLD))  # texts go
        s.add_all(_audit(live, live_change, 3, at=OLD))  # stay
        s.add_all(_audit(done, done_change, 3, at=RECENT))  # stay
    summaries_before = (
        await _count(sessionmaker, select(func.count()).select_from(BulkChange)),
        await _count(sessionmaker, select(func.count()).select_from(DeviceChange)),
        await _count(sessionmaker, select(func.count()).select_from(DeviceChangeLog)),
    )

    code, out, err = await cli(url, "purge", "--older-than", "90d", "--batch-size", "10", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["outbox_deleted"], result["callbacks_deleted"]) == (35, 12)
    assert result["audit_texts_blanked"] == 20
    assert result["batches"] == 4 + 2 + 2  # 35 = 10+10+10+5, 12 = 10+2, 20 = 10+10
    assert result["older_than"] == "90d"

    async with sessionmaker() as s:
        outbox = (await s.execute(select(OutboxMessage.body, OutboxMessage.published_at))).all()
        callbacks = (
            await s.execute(select(CarrierCallback.device_change_id, CarrierCallback.processed_at))
        ).all()
        audit = (await s.scalars(select(DeviceChangeLog))).all()
    assert len(outbox) == 5 + 3 + 4
    assert sum(1 for body, _ in outbox if body["bulk_change_id"] == str(live)) == 5
    assert len(callbacks) == 3 + 2 + 2
    assert sum(1 for change_id, _ in callbacks if change_id == live_change.id) == 3
    blanked = [row for row in audit if row.request_text is None]
    assert len(audit) == 26 and len(blanked) == 20
    assert all(row.bulk_change_id == done and row.created_at < RECENT for row in blanked)
    assert all(row.response_text is None for row in blanked)
    # The summary of every blanked row stays: who, what, when, the outcome.
    assert {(r.step, r.actor, r.status, r.message, r.http_status) for r in blanked} == {
        ("carrier_request", "bulk-worker", "Success", "activate accepted", 200)
    }
    assert summaries_before == (
        await _count(sessionmaker, select(func.count()).select_from(BulkChange)),
        await _count(sessionmaker, select(func.count()).select_from(DeviceChange)),
        await _count(sessionmaker, select(func.count()).select_from(DeviceChangeLog)),
    )

    code, out, err = await cli(url, "purge", "--older-than", "90d")
    assert code == 0, err
    assert "0 published outbox rows deleted, 0 reconciled callbacks deleted, 0 audit" in out


async def test_purge_never_waits_for_a_row_another_transaction_holds(
    db, cli, private_factory
) -> None:
    url, sessionmaker = db
    _, (done, _), _ = await _world(private_factory, sessionmaker)
    async with sessionmaker() as s, s.begin():
        s.add_all(_outbox(done, 3, published=OLD))
    async with sessionmaker() as holder, holder.begin():
        held = await holder.scalar(
            select(OutboxMessage.id).order_by(OutboxMessage.id).limit(1).with_for_update()
        )
        code, out, err = await asyncio.wait_for(
            cli(url, "purge", "--older-than", "90d", "--batch-size", "10", "--json"), 60
        )
        assert code == 0, err
        assert json.loads(out)["outbox_deleted"] == 2
    async with sessionmaker() as s:
        assert list(await s.scalars(select(OutboxMessage.id))) == [held]
