"""Storing and reconciling callbacks in batches, on the real database: what one batch does when
it holds repeats, early callbacks, callbacks of finished device changes or of several requests,
and that its cost in statements does not grow with its size."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select

from devicebulk_common import contracts as c
from devicebulk_common.callbacks import (
    Received,
    lock_request,
    lock_requests_shared,
    reconcile_callbacks,
    reconcile_request,
    store_many,
)
from devicebulk_common.carriers.thingspace_callbacks import parse as parse_thingspace
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import (
    BulkChange,
    CarrierCallback,
    Device,
    DeviceChange,
    DeviceChangeLog,
    OutboxMessage,
)


@dataclass
class Request:
    """A bulk change whose device changes were all sent in one carrier request."""

    provider_id: int
    bulk_id: uuid.UUID
    request_id: str
    changes: list[DeviceChange]


async def _request(
    factory, sessionmaker, n: int, *, params: dict[str, Any] | None = None, recorded: bool = True
) -> Request:
    tenant = await factory.tenant()
    provider = await factory.provider()
    devices = await factory.devices(tenant, provider, n)
    request_id = f"req-{uuid.uuid4()}"
    bulk_id, changes = await factory.bulk_change(
        tenant,
        provider,
        devices,
        status=c.DeviceChangeStatus.AWAITING_CALLBACK.value,
        params=params,
        carrier_request_id=request_id if recorded else None,
    )
    return Request(provider.id, bulk_id, request_id, changes)


def _body(iccid: str, request_id: str, *, ok: bool = True, mdn: str = "8585550100") -> dict:
    body: dict[str, Any] = {
        "username": "ts-callback",
        "password": "s3cret",
        "requestId": request_id,
        "deviceIds": [{"id": iccid, "kind": "Iccid"}],
        "callbackCount": 1,
    }
    if ok:
        body["status"] = "Success"
        body["deviceResponse"] = {"activateResponse": {"deviceIds": [{"kind": "mdn", "id": mdn}]}}
    else:
        body["status"] = "Failed"
        body["faultResponse"] = {"faultcode": "Carrier.Refused", "faultstring": "no"}
    return body


async def _store(sessionmaker, provider_id: int, bodies: list[dict]) -> list[int]:
    async with unit_of_work(sessionmaker) as s:
        stored = await store_many(
            s, [Received(provider_id, parse_thingspace(b), b) for b in bodies]
        )
    return [x.id for x in stored]


async def _reconcile(sessionmaker, request_ids: list[str], callback_ids: list[int]) -> int:
    async with unit_of_work(sessionmaker) as s:
        await lock_requests_shared(s, request_ids)
        return await reconcile_callbacks(s, callback_ids)


async def _callbacks(sessionmaker, ids: list[int]) -> list[CarrierCallback]:
    async with sessionmaker() as s:
        rows = await s.scalars(
            select(CarrierCallback).where(CarrierCallback.id.in_(ids)).order_by(CarrierCallback.id)
        )
        return list(rows)


async def _change(sessionmaker, change_id: int) -> DeviceChange:
    async with sessionmaker() as s:
        change = await s.get(DeviceChange, change_id)
        assert change is not None
        return change


async def _audit_count(sessionmaker, change_id: int) -> int:
    async with sessionmaker() as s:
        return await s.scalar(
            select(func.count())
            .select_from(DeviceChangeLog)
            .where(DeviceChangeLog.device_change_id == change_id)
        )


async def test_failed_then_success_for_one_device_change_in_one_batch_applies_only_the_first(
    factory, sessionmaker
):
    req = await _request(factory, sessionmaker, 2)
    dc = req.changes[0]
    ids = await _store(
        sessionmaker,
        req.provider_id,
        [_body(dc.iccid, req.request_id, ok=False), _body(dc.iccid, req.request_id)],
    )
    assert len(set(ids)) == 2
    assert await _reconcile(sessionmaker, [req.request_id], ids) == 2
    change = await _change(sessionmaker, dc.id)
    assert change.status == "Failed" and change.error_code == "Carrier.Refused"
    first, second = await _callbacks(sessionmaker, ids)
    assert first.outcome == "activate failed: Carrier.Refused"
    assert second.outcome == "ignored: device change already Failed"
    assert second.processed_at is not None and second.device_change_id == dc.id
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, req.bulk_id)
        device = await s.get(Device, dc.device_id)
    assert bulk.remaining_count == 1  # counted once
    assert device.status != "active"  # the success that came second changed nothing
    assert await _audit_count(sessionmaker, dc.id) == 1


async def test_the_same_callback_twice_in_one_store_is_one_row_counted_twice(factory, sessionmaker):
    req = await _request(factory, sessionmaker, 1)
    body = _body(req.changes[0].iccid, req.request_id)
    async with unit_of_work(sessionmaker) as s:
        stored = await store_many(
            s,
            [
                Received(req.provider_id, parse_thingspace(body), body),
                Received(req.provider_id, parse_thingspace(body), body | {"callbackCount": 2}),
            ],
        )
    assert stored[0].id == stored[1].id
    assert [x.first for x in stored] == [True, False]
    async with unit_of_work(sessionmaker) as s:
        (again,) = await store_many(s, [Received(req.provider_id, parse_thingspace(body), body)])
    assert again.id == stored[0].id and again.first is False
    (row,) = await _callbacks(sessionmaker, [again.id])
    assert row.times_received == 3 and row.payload["password"] == "***"


async def test_a_batch_of_several_requests_applies_the_known_and_leaves_the_early_waiting(
    factory, sessionmaker
):
    known = await _request(factory, sessionmaker, 2)
    early = await _request(factory, sessionmaker, 2, recorded=False)
    ids = await _store(
        sessionmaker, known.provider_id, [_body(dc.iccid, known.request_id) for dc in known.changes]
    ) + await _store(
        sessionmaker, early.provider_id, [_body(dc.iccid, early.request_id) for dc in early.changes]
    )
    assert await _reconcile(sessionmaker, [known.request_id, early.request_id], ids) == 2
    rows = await _callbacks(sessionmaker, ids)
    assert [r.processed_at is not None for r in rows] == [True, True, False, False]
    assert {(await _change(sessionmaker, dc.id)).status for dc in known.changes} == {"Success"}

    # The worker records the early request's id and reconciles what waits for it.
    async with unit_of_work(sessionmaker) as s:
        await lock_request(s, early.request_id)
        for dc in early.changes:
            change = await s.get(DeviceChange, dc.id)
            change.carrier_request_id = early.request_id
        await s.flush()
        assert await reconcile_request(s, early.request_id) == 2
    assert {(await _change(sessionmaker, dc.id)).status for dc in early.changes} == {"Success"}


async def test_a_callback_for_a_finished_device_change_is_recorded_as_ignored(
    factory, sessionmaker
):
    req = await _request(factory, sessionmaker, 1)
    dc = req.changes[0]
    first = await _store(sessionmaker, req.provider_id, [_body(dc.iccid, req.request_id)])
    await _reconcile(sessionmaker, [req.request_id], first)
    late = await _store(sessionmaker, req.provider_id, [_body(dc.iccid, req.request_id, ok=False)])
    await _reconcile(sessionmaker, [req.request_id], late)
    (row,) = await _callbacks(sessionmaker, late)
    assert row.outcome == "ignored: device change already Success"
    assert (await _change(sessionmaker, dc.id)).status == "Success"
    assert await _audit_count(sessionmaker, dc.id) == 1


async def test_a_callback_naming_no_iccid_we_sent_applies_only_to_a_one_device_request(
    factory, sessionmaker
):
    alone = await _request(factory, sessionmaker, 1)
    many = await _request(factory, sessionmaker, 2)
    ids = await _store(
        sessionmaker, alone.provider_id, [_body("8914800000000000001", alone.request_id)]
    ) + await _store(
        sessionmaker, many.provider_id, [_body("8914800000000000002", many.request_id)]
    )
    await _reconcile(sessionmaker, [alone.request_id, many.request_id], ids)
    to_alone, to_many = await _callbacks(sessionmaker, ids)
    assert to_alone.device_change_id == alone.changes[0].id
    assert (await _change(sessionmaker, alone.changes[0].id)).status == "Success"
    assert to_many.outcome == "no device change of this request has this device"
    assert to_many.processed_at is not None
    assert {(await _change(sessionmaker, dc.id)).status for dc in many.changes} == {
        "AwaitingCallback"
    }


async def test_a_first_step_confirmed_queues_the_next_and_a_second_callback_is_ignored(
    factory, sessionmaker
):
    params = {"op": "edit_username", "username": "pump-7", "cost_center": "CC-1"}
    req = await _request(factory, sessionmaker, 1, params=params)
    dc = req.changes[0]
    ids = await _store(
        sessionmaker,
        req.provider_id,
        [_body(dc.iccid, req.request_id), _body(dc.iccid, req.request_id, ok=False)],
    )
    await _reconcile(sessionmaker, [req.request_id], ids)
    change = await _change(sessionmaker, dc.id)
    assert change.status == "Queued" and change.carrier_request_id is None
    assert change.params["phase"] == "cost_center" and change.result == {"username": "pump-7"}
    queued, second = await _callbacks(sessionmaker, ids)
    assert queued.outcome == "edit_username step confirmed; next: cost_center"
    assert second.outcome == "ignored: device change already Queued"
    async with sessionmaker() as s:
        device = await s.get(Device, dc.device_id)
        bulk = await s.get(BulkChange, req.bulk_id)
    assert device.username == "pump-7" and bulk.remaining_count == 1


async def test_the_last_batch_completes_the_bulk_change_once(factory, sessionmaker):
    req = await _request(factory, sessionmaker, 6)
    bodies = [
        _body(dc.iccid, req.request_id, mdn=f"85855501{i:02d}") for i, dc in enumerate(req.changes)
    ]
    for half in (bodies[:3], bodies[3:], bodies):  # the last pass repeats every callback
        await _reconcile(
            sessionmaker, [req.request_id], await _store(sessionmaker, req.provider_id, half)
        )
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, req.bulk_id)
        events = await s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.body["bulk_change_id"].astext == str(req.bulk_id))
        )
    assert bulk.status == "PROCESSED" and bulk.remaining_count == 0
    assert events == 1


async def test_a_batch_costs_the_same_statements_whatever_its_size(factory, sessionmaker, engine):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    async def cost(n: int) -> int:
        req = await _request(factory, sessionmaker, n)
        ids = await _store(
            sessionmaker,
            req.provider_id,
            [
                _body(dc.iccid, req.request_id, mdn=f"85855{i:05d}")
                for i, dc in enumerate(req.changes)
            ],
        )
        statements.clear()
        event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            assert await _reconcile(sessionmaker, [req.request_id], ids) == n
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
        return len(statements)

    # Both complete their bulk change: the same terminal path, 3 callbacks or 40.
    assert await cost(3) == await cost(40)


async def test_an_mdn_too_long_for_the_record_fails_its_device_change_with_a_named_reason(
    factory, sessionmaker
):
    """Not a reconciliation that fails, and is swept again, forever: the device change ends
    Failed with the reason, and the other device of the batch is activated."""
    req = await _request(factory, sessionmaker, 2)
    bad, good = req.changes
    ids = await _store(
        sessionmaker,
        req.provider_id,
        [_body(bad.iccid, req.request_id, mdn="8" * 25), _body(good.iccid, req.request_id)],
    )
    assert await _reconcile(sessionmaker, [req.request_id], ids) == 2
    failed, succeeded = await _change(sessionmaker, bad.id), await _change(sessionmaker, good.id)
    assert failed.status == "Failed" and failed.error_code == "Activation.NumberTooLong"
    assert "8" * 25 in failed.error_message
    assert succeeded.status == "Success"
    assert all(cb.processed_at is not None for cb in await _callbacks(sessionmaker, ids))
    async with sessionmaker() as s:
        device = await s.get(Device, bad.device_id)
    assert device.mdn is None and device.status != "active"


async def test_the_same_callback_from_two_providers_is_two_callbacks(factory, sessionmaker):
    """The dedupe key holds the provider: B's copy neither shadows A's nor stands in for it."""
    req = await _request(factory, sessionmaker, 1)
    other = await factory.provider()
    body = _body(req.changes[0].iccid, req.request_id)
    for batches in ([[other.id, req.provider_id]], [[other.id], [req.provider_id]]):
        rid = f"req-{uuid.uuid4()}"
        stored = []
        for batch in batches:
            async with unit_of_work(sessionmaker) as s:
                stored += await store_many(
                    s,
                    [Received(p, parse_thingspace(body | {"requestId": rid}), body) for p in batch],
                )
        assert len({x.id for x in stored}) == 2 and all(x.first for x in stored)
    # And A's copy reconciles A's device change; B's is left alone.
    ids = await _store(sessionmaker, other.id, [body]) + await _store(
        sessionmaker, req.provider_id, [body]
    )
    assert await _reconcile(sessionmaker, [req.request_id], ids) == 1
    from_other, own = await _callbacks(sessionmaker, ids)
    assert from_other.processed_at is None and own.device_change_id == req.changes[0].id
    assert (await _change(sessionmaker, req.changes[0].id)).status == "Success"


async def test_a_stored_callback_keeps_no_secret_at_any_depth(factory, sessionmaker):
    """The stored payload masks the listener's credentials and every secret key the redaction
    knows, however deep and however spelt (a carrier echoing a token, a session, an API key)."""
    req = await _request(factory, sessionmaker, 1)
    body = _body(req.changes[0].iccid, req.request_id)
    body["deviceResponse"]["activateResponse"]["sessionToken"] = "sess-0123456789"
    body["extra"] = [{"API-Key": "key-0123456789", "note": "kept"}]
    (stored_id,) = await _store(sessionmaker, req.provider_id, [body])
    (stored,) = await _callbacks(sessionmaker, [stored_id])
    text = str(stored.payload)
    for secret in ("s3cret", "ts-callback", "sess-0123456789", "key-0123456789"):
        assert secret not in text
    assert "kept" in text and req.changes[0].iccid in text
