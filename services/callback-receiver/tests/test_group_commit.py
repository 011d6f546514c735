"""The receiver under concurrent callbacks: one batch stored with one commit, each carrier
answered once its own callback is stored, reconciled in the background, and nothing lost when
storing or reconciling fails or the process stops."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from callback_helpers import activation_callback, record_request
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from devicebulk_callbacks import reconciler
from devicebulk_callbacks.app import create_app
from devicebulk_callbacks.settings import CallbackSettings
from devicebulk_common.callbacks import Received, Stored, store_many
from devicebulk_common.models import (
    BulkChange,
    CarrierCallback,
    DeviceChange,
    DeviceChangeLog,
    OutboxMessage,
)


def _settings(database_url: str, **kw) -> CallbackSettings:
    # A window long enough that the concurrent posts of a test land in one batch, even with
    # both cores busy (0.3 s split 40 posts into three batches under a loaded test run).
    return CallbackSettings(
        database_url=database_url,
        callbacks_provider_cache_s=0,
        callbacks_batch_wait_s=1.0,
        **kw,
    )


@pytest.fixture
async def app(database_url: str, credentials_key: str) -> AsyncIterator[FastAPI]:
    app = create_app(_settings(database_url))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def batches(app: FastAPI) -> list[int]:
    """The size of every batch the receiver stores."""
    sizes: list[int] = []

    async def recording(session: AsyncSession, received: Sequence[Received]) -> list[Stored]:
        sizes.append(len(received))
        return await store_many(session, received)

    app.state.intake.group_commit.store = recording
    return sizes


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver")


async def _post_all(app: FastAPI, url: str, bodies: list[dict]) -> list[httpx.Response]:
    async with _client(app) as client:
        answers = await asyncio.gather(*(client.post(url, json=b) for b in bodies))
    await app.state.intake.settled()
    return list(answers)


async def _statuses(sessionmaker, changes: list[DeviceChange]) -> list[str]:
    async with sessionmaker() as s:
        return [(await s.get(DeviceChange, dc.id)).status for dc in changes]


async def test_concurrent_callbacks_of_one_request_take_one_batch_and_complete_once(
    app, batches, many, sessionmaker
):
    rid = f"req-{uuid.uuid4()}"
    for dc in many.changes:
        await record_request(sessionmaker, dc, rid)
    bodies = [
        activation_callback(dc.iccid, rid, mdn=f"85855{i:05d}") for i, dc in enumerate(many.changes)
    ]
    answers = await _post_all(app, many.url, bodies)
    assert [a.status_code for a in answers] == [200] * len(bodies)
    assert all(a.json()["duplicate"] is False for a in answers)
    assert batches == [len(bodies)]
    assert set(await _statuses(sessionmaker, many.changes)) == {"Success"}
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, many.bulk_id)
        events = (
            await s.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.body["bulk_change_id"].astext == str(many.bulk_id)
                )
            )
        ).all()
    assert bulk.status == "PROCESSED" and bulk.remaining_count == 0
    assert [e.routing_key for e in events] == ["bulk_change.completed"]


async def test_the_same_callback_twice_in_one_batch_is_stored_once_and_applied_once(
    app, batches, scenario, sessionmaker
):
    dc = scenario.changes[0]
    await record_request(sessionmaker, dc, "req-twice")
    body = activation_callback(dc.iccid, "req-twice")
    answers = await _post_all(app, scenario.url, [body, body | {"callbackCount": 2}])
    assert batches == [2]
    assert sorted(a.json()["duplicate"] for a in answers) == [False, True]
    async with sessionmaker() as s:
        stored = (
            await s.scalars(
                select(CarrierCallback).where(CarrierCallback.request_id == "req-twice")
            )
        ).one()
        bulk = await s.get(BulkChange, scenario.bulk_id)
        logs = await s.scalar(
            select(func.count())
            .select_from(DeviceChangeLog)
            .where(DeviceChangeLog.device_change_id == dc.id)
        )
    assert stored.times_received == 2 and stored.processed_at is not None
    assert bulk.remaining_count == 2 and logs == 1
    assert await _statuses(sessionmaker, [dc]) == ["Success"]


async def test_a_batch_whose_store_fails_answers_503_and_the_carrier_can_send_again(
    app, scenario, sessionmaker
):
    async def failing(session: AsyncSession, received: Sequence[Received]) -> list[Stored]:
        raise ConnectionError("the database went away")

    app.state.intake.group_commit.store = failing
    for dc in scenario.changes:
        await record_request(sessionmaker, dc, f"req-down-{dc.id}")
    bodies = [activation_callback(dc.iccid, f"req-down-{dc.id}") for dc in scenario.changes]
    answers = await _post_all(app, scenario.url, bodies)
    assert [a.status_code for a in answers] == [503, 503, 503]
    assert answers[0].headers["content-type"] == "application/problem+json"
    async with sessionmaker() as s:
        stored = await s.scalar(
            select(func.count())
            .select_from(CarrierCallback)
            .where(CarrierCallback.request_id.like("req-down-%"))
        )
    assert stored == 0
    assert set(await _statuses(sessionmaker, scenario.changes)) == {"AwaitingCallback"}

    app.state.intake.group_commit.store = store_many
    again = await _post_all(app, scenario.url, bodies)
    assert [a.status_code for a in again] == [200, 200, 200]
    assert set(await _statuses(sessionmaker, scenario.changes)) == {"Success"}


async def test_a_callback_the_database_refuses_fails_alone_not_its_batch(
    app, scenario, sessionmaker
):
    async def refusing(session: AsyncSession, received: Sequence[Received]) -> list[Stored]:
        if any(r.parsed.request_id == "req-poison" for r in received):
            raise ValueError("refused by the database")
        return await store_many(session, received)

    app.state.intake.group_commit.store = refusing
    good, bad = scenario.changes[:2]
    await record_request(sessionmaker, good, "req-good")
    answers = await _post_all(
        app,
        scenario.url,
        [activation_callback(good.iccid, "req-good"), activation_callback(bad.iccid, "req-poison")],
    )
    assert [a.status_code for a in answers] == [200, 503]
    assert await _statuses(sessionmaker, [good]) == ["Success"]


async def test_a_failed_reconciliation_is_logged_and_left_to_the_sweeper(
    app, scenario, sessionmaker, monkeypatch
):
    async def broken(session: AsyncSession, callback_ids: Sequence[int]) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(reconciler, "reconcile_callbacks", broken)
    dc = scenario.changes[0]
    await record_request(sessionmaker, dc, "req-broken")
    with capture_logs() as logs:
        (answer,) = await _post_all(
            app, scenario.url, [activation_callback(dc.iccid, "req-broken")]
        )
    assert answer.status_code == 200  # stored: the carrier is done
    assert any(
        entry["event"].startswith("reconciling a stored callback failed")
        and entry["log_level"] == "error"
        for entry in logs
    )
    async with sessionmaker() as s:
        stored = (
            await s.scalars(
                select(CarrierCallback).where(CarrierCallback.request_id == "req-broken")
            )
        ).one()
    assert stored.processed_at is None
    assert await _statuses(sessionmaker, [dc]) == ["AwaitingCallback"]

    assert await reconciler.sweep(sessionmaker, older_than_s=0) >= 1
    assert await _statuses(sessionmaker, [dc]) == ["Success"]


async def test_stopping_reconciles_every_callback_already_answered(
    database_url, credentials_key, scenario, sessionmaker
):
    # Reconciliation would wait a minute for more callbacks: stopping must not.
    app = create_app(_settings(database_url, callbacks_reconcile_wait_s=60))
    dc = scenario.changes[0]
    await record_request(sessionmaker, dc, "req-stop")
    async with app.router.lifespan_context(app):
        async with _client(app) as client:
            answer = await client.post(scenario.url, json=activation_callback(dc.iccid, "req-stop"))
        assert answer.status_code == 200
        assert await _statuses(sessionmaker, [dc]) == ["AwaitingCallback"]
    assert await _statuses(sessionmaker, [dc]) == ["Success"]
