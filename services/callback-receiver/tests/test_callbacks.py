"""The callback receiver on the real database: early, duplicate, failed and bogus callbacks."""

from __future__ import annotations

import json
import uuid

from callback_helpers import activation_callback, record_request
from sqlalchemy import func, select

from devicebulk_common.models import (
    BulkChange,
    CarrierCallback,
    Device,
    DeviceChange,
    DeviceChangeLog,
    OutboxMessage,
    ServiceProvider,
)


async def _change(sessionmaker, change_id):
    async with sessionmaker() as s:
        return await s.get(DeviceChange, change_id)


async def test_callback_after_the_request_id_activates_the_device(receiver, scenario, sessionmaker):
    dc = scenario.changes[0]
    await record_request(sessionmaker, dc, "req-1")
    answer = await receiver.post(scenario.url, json=activation_callback(dc.iccid, "req-1"))
    assert answer.status_code == 200 and answer.json()["duplicate"] is False
    async with sessionmaker() as s:
        change = await s.get(DeviceChange, dc.id)
        device = await s.get(Device, dc.device_id)
    assert change.status == "Success" and change.completed_at is not None
    assert (
        device.status == "active" and device.msisdn == "18585550100" and device.mdn == "8585550100"
    )
    assert device.carrier_rate_plan == "M2M_4G"


async def test_early_callback_waits_for_the_request_id_then_applies(
    receiver, scenario, sessionmaker
):
    dc = scenario.changes[0]
    answer = await receiver.post(scenario.url, json=activation_callback(dc.iccid, "req-early"))
    assert answer.status_code == 200
    assert (await _change(sessionmaker, dc.id)).status == "Processing"
    async with sessionmaker() as s:
        stored = (
            await s.scalars(
                select(CarrierCallback).where(CarrierCallback.request_id == "req-early")
            )
        ).one()
    assert stored.processed_at is None and stored.payload["password"] == "***"
    await record_request(sessionmaker, dc, "req-early")
    assert (await _change(sessionmaker, dc.id)).status == "Success"


async def test_duplicate_callback_changes_nothing(receiver, scenario, sessionmaker):
    dc = scenario.changes[0]
    await record_request(sessionmaker, dc, "req-dup")
    first = await receiver.post(scenario.url, json=activation_callback(dc.iccid, "req-dup"))
    again = await receiver.post(
        scenario.url, json=activation_callback(dc.iccid, "req-dup", callbackCount=2)
    )
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, scenario.bulk_id)
        stored = (
            await s.scalars(select(CarrierCallback).where(CarrierCallback.request_id == "req-dup"))
        ).one()
        logs = await s.scalar(
            select(func.count())
            .select_from(DeviceChangeLog)
            .where(DeviceChangeLog.device_change_id == dc.id)
        )
    assert bulk.remaining_count == 2  # counted once
    assert stored.times_received == 2
    assert logs == 1


async def test_failure_callback_fails_the_device_with_the_fault(receiver, scenario, sessionmaker):
    dc = scenario.changes[1]
    await record_request(sessionmaker, dc, "req-fail")
    body = activation_callback(dc.iccid, "req-fail", status="Failed")
    body.pop("deviceResponse")
    body["faultResponse"] = {
        "faultcode": "UnifiedWebService.REQUEST_FAILED.DeviceState.Invalid",
        "faultstring": "Device is in state 'suspend'",
    }
    assert (await receiver.post(scenario.url, json=body)).status_code == 200
    change = await _change(sessionmaker, dc.id)
    assert change.status == "Failed"
    assert change.error_code == "UnifiedWebService.REQUEST_FAILED.DeviceState.Invalid"
    assert change.error_message == "Device is in state 'suspend'"


async def test_already_active_is_queued_to_be_read_back_not_failed(
    receiver, scenario, sessionmaker
):
    """The worker reads the device back from the carrier's list and records it Success."""
    dc = scenario.changes[1]
    await record_request(sessionmaker, dc, "req-active")
    body = activation_callback(dc.iccid, "req-active", status="Failed")
    body.pop("deviceResponse")
    body["faultResponse"] = {
        "faultcode": "UnifiedWebService.REQUEST_FAILED.DeviceAlreadyActive",
        "faultstring": "Device is already active",
    }
    assert (await receiver.post(scenario.url, json=body)).status_code == 200
    change = await _change(sessionmaker, dc.id)
    assert change.status == "Queued" and change.params["ask_first"] is True
    assert change.carrier_request_id is None and change.published_at is None


async def test_last_device_completes_the_bulk_change_exactly_once(receiver, scenario, sessionmaker):
    for i, dc in enumerate(scenario.changes):
        await record_request(sessionmaker, dc, f"req-{scenario.bulk_id}-{i}")
    for i, dc in enumerate(scenario.changes):
        for _ in range(2):  # every callback delivered twice
            await receiver.post(
                scenario.url,
                json=activation_callback(
                    dc.iccid, f"req-{scenario.bulk_id}-{i}", mdn=f"85855501{i:02d}"
                ),
            )
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, scenario.bulk_id)
        events = (
            await s.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.body["bulk_change_id"].astext == str(scenario.bulk_id)
                )
            )
        ).all()
    assert (
        bulk.status == "PROCESSED" and bulk.processed_at is not None and bulk.remaining_count == 0
    )
    assert len(events) == 1 and events[0].routing_key == "bulk_change.completed"


async def test_wrong_credentials_are_refused_and_change_nothing(receiver, scenario, sessionmaker):
    dc = scenario.changes[0]
    await record_request(sessionmaker, dc, "req-auth")
    answer = await receiver.post(
        scenario.url, json=activation_callback(dc.iccid, "req-auth", password="guess")
    )
    assert answer.status_code == 401
    assert (await _change(sessionmaker, dc.id)).status == "AwaitingCallback"
    wrong_path = f"/callbacks/thingspace/{scenario.provider.id}/not-the-secret"
    assert (
        await receiver.post(wrong_path, json=activation_callback(dc.iccid, "req-auth"))
    ).status_code == 404


async def test_malformed_bodies_get_400_never_500(receiver, scenario):
    for body in (
        b"not json",
        b"[]",
        b'{"requestId": 5}',
        b'{"requestId": "r", "deviceIds": "x"}',
        b"\xff\xfe",
    ):
        answer = await receiver.post(scenario.url, content=body)
        assert answer.status_code == 400, body


async def test_bodies_the_database_could_not_store_get_400_not_a_retry(receiver, scenario):
    iccid = scenario.changes[0].iccid
    good = json.dumps(activation_callback(iccid, "req-x"))
    for body in (
        good.replace('"req-x"', '"' + "r" * 65 + '"'),  # longer than any request id
        good.replace('"Iccid"}', '"Iccid", "note": "a\\u0000b"}'),  # jsonb holds no NUL
        good.replace('"callbackCount": 1', '"callbackCount": NaN'),
        good.replace('"callbackCount": 1', '"callbackCount": 1e999'),
        good.replace(iccid, "8" * 41),
    ):
        assert body != good
        answer = await receiver.post(scenario.url, content=body.encode())
        assert answer.status_code == 400, body


async def test_callback_for_an_unknown_request_is_stored_and_left_pending(
    receiver, scenario, sessionmaker
):
    rid = f"unknown-{uuid.uuid4()}"
    assert (
        await receiver.post(scenario.url, json=activation_callback("8914800000000000000", rid))
    ).status_code == 200
    async with sessionmaker() as s:
        stored = (
            await s.scalars(select(CarrierCallback).where(CarrierCallback.request_id == rid))
        ).one()
    assert stored.processed_at is None


async def test_the_providers_integration_picks_the_callback_parser(
    receiver, scenario, sessionmaker
):
    """A Control Center provider receives no callbacks: a ThingSpace body sent to its listener
    is refused as malformed and stores nothing."""
    async with sessionmaker() as s, s.begin():
        provider = await s.get(ServiceProvider, scenario.provider.id)
        provider.integration = "jasper"
    dc = scenario.changes[0]
    answer = await receiver.post(scenario.url, json=activation_callback(dc.iccid, "req-cc"))
    assert answer.status_code == 400
    assert "is a jasper provider, which receives no callbacks" in answer.json()["detail"]
    async with sessionmaker() as s:
        stored = await s.scalar(
            select(func.count())
            .select_from(CarrierCallback)
            .where(CarrierCallback.service_provider_id == scenario.provider.id)
        )
    assert stored == 0
