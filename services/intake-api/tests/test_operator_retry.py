"""Retrying the failed devices of a finished bulk change: requeued for the relay, counted, audited,
and completed a second time with its own completion event."""

from __future__ import annotations

import asyncio

from operator_helpers import completion_events, headers, make_bulk_change, result
from sqlalchemy import select, text

from devicebulk_common import contracts as c
from devicebulk_common.lifecycle import finish_device_change
from devicebulk_common.models import BulkChange, DeviceChange, DeviceChangeLog
from devicebulk_common.outbox.relay import _CLAIM_DEVICE_CHANGES


def _failed(code: str = "TIMEOUT") -> dict:
    return result(
        "Failed",
        attempts=3,
        error_code=code,
        error_message="no answer from the carrier",
        carrier_request_id="req-old",
        result={"detail": "x"},
    )


async def _finished_with_failures(factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, ids = await make_bulk_change(
        sessionmaker,
        tenant.id,
        provider.id,
        [
            result("Success", attempts=1),
            _failed(),
            result("ValidationFailed", validation_error="ICCID fails its Luhn check"),
            _failed("INVALID_SERVICE_PLAN"),
            result("Cancelled"),
        ],
    )
    return tenant, bulk_id, ids


async def test_failed_devices_are_requeued_for_the_relay(api, factory, sessionmaker):
    tenant, bulk_id, ids = await _finished_with_failures(factory, sessionmaker)

    answer = await api.post(
        f"/api/v1/bulk-changes/{bulk_id}/retry", headers=headers(tenant.id, "ops@example.test")
    )

    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "BulkChangeId": str(bulk_id),
        "Status": "PROCESSING",
        "RequeuedCount": 2,
    }
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, bulk_id)
        rows = {
            dc.id: dc
            for dc in await s.scalars(
                select(DeviceChange).where(DeviceChange.bulk_change_id == bulk_id)
            )
        }
    # What the relay claims next (its own query): every Queued, unpublished row.
    async with sessionmaker() as s:
        claimable = {
            r.id for r in await s.execute(_CLAIM_DEVICE_CHANGES, {"after": 0, "limit": 10**6})
        }
        await s.rollback()
    assert bulk.status == "PROCESSING" and bulk.remaining_count == 2
    assert bulk.processed_at is None and bulk.completion_seq == 1
    for dc_id in (ids[1], ids[3]):
        dc = rows[dc_id]
        assert (dc.status, dc.attempts, dc.published_at, dc.completed_at) == (
            "Queued",
            0,
            None,
            None,
        )
        # The last error code stays (a Timeout makes the worker ask the carrier first).
        assert (dc.error_message, dc.carrier_request_id, dc.result) == (None,) * 3
    assert {ids[1], ids[3]} <= claimable
    assert not {ids[0], ids[2], ids[4]} & claimable
    assert [rows[i].status for i in (ids[0], ids[2], ids[4])] == [
        "Success",
        "ValidationFailed",
        "Cancelled",
    ]

    view = (await api.get(f"/api/v1/bulk-changes/{bulk_id}", headers=headers(tenant.id))).json()
    assert view["Status"] == "PROCESSING" and view["Counts"]["Queued"] == 2
    assert view["Progress"]["Completed"] == 3


async def test_retry_is_audited_per_device_and_for_the_bulk_change(api, factory, sessionmaker):
    tenant, bulk_id, ids = await _finished_with_failures(factory, sessionmaker)
    await api.post(
        f"/api/v1/bulk-changes/{bulk_id}/retry", headers=headers(tenant.id, "ops@example.test")
    )

    trail = (
        await api.get(f"/api/v1/bulk-changes/{bulk_id}/audit", headers=headers(tenant.id))
    ).json()["Items"]
    by_device = {e["DeviceChangeId"]: e for e in trail}
    assert set(by_device) == {ids[1], ids[3], None}
    assert by_device[ids[1]]["Step"] == "retry" and by_device[ids[1]]["Status"] == "Queued"
    assert by_device[ids[1]]["Actor"] == "ops@example.test"  # who asked
    assert (
        by_device[ids[1]]["Message"]
        == "retry requested by ops@example.test (it had failed: TIMEOUT)"
    )
    assert "INVALID_SERVICE_PLAN" in by_device[ids[3]]["Message"]
    assert by_device[None]["Message"].startswith(
        "retry requested by ops@example.test: 2 failed device changes"
    )


async def test_retried_bulk_change_completes_again_with_a_second_event(api, factory, sessionmaker):
    tenant, bulk_id, ids = await _finished_with_failures(factory, sessionmaker)
    await api.post(f"/api/v1/bulk-changes/{bulk_id}/retry", headers=headers(tenant.id))

    # The worker runs them again: one succeeds, then the other fails for good.
    async with sessionmaker() as s, s.begin():
        await finish_device_change(s, ids[1], c.DeviceChangeStatus.SUCCESS)
    assert await completion_events(sessionmaker, bulk_id) == []
    async with sessionmaker() as s, s.begin():
        await finish_device_change(
            s, ids[3], c.DeviceChangeStatus.FAILED, error_code="INVALID_SERVICE_PLAN"
        )

    (event,) = await completion_events(sessionmaker, bulk_id)
    assert event.completion_seq == 2 and event.status is c.BulkChangeStatus.PROCESSED
    view = (await api.get(f"/api/v1/bulk-changes/{bulk_id}", headers=headers(tenant.id))).json()
    assert view["Status"] == "PROCESSED" and view["Counts"]["Failed"] == 1
    listed = (await api.get("/api/v1/bulk-changes", headers=headers(tenant.id))).json()["Items"]
    assert listed[0]["Completions"] == 2

    # And it can be retried again: the third completion is the third event.
    answer = await api.post(f"/api/v1/bulk-changes/{bulk_id}/retry", headers=headers(tenant.id))
    assert answer.json()["RequeuedCount"] == 1
    async with sessionmaker() as s, s.begin():
        await finish_device_change(s, ids[3], c.DeviceChangeStatus.SUCCESS)
    assert [e.completion_seq for e in await completion_events(sessionmaker, bulk_id)] == [2, 3]


async def test_first_completion_event_is_numbered_one(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, ids = await make_bulk_change(sessionmaker, tenant.id, provider.id, [result("Queued")])
    async with sessionmaker() as s, s.begin():
        await finish_device_change(s, ids[0], c.DeviceChangeStatus.SUCCESS)
    (event,) = await completion_events(sessionmaker, bulk_id)
    assert event.completion_seq == 1


async def test_retry_of_an_unfinished_bulk_change_is_409(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, _ = await make_bulk_change(
        sessionmaker, tenant.id, provider.id, [_failed(), result("Processing")]
    )
    answer = await api.post(f"/api/v1/bulk-changes/{bulk_id}/retry", headers=headers(tenant.id))
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/bulk-change-not-finished")
    async with sessionmaker() as s:
        assert (await s.get(BulkChange, bulk_id)).remaining_count == 1


async def test_retry_without_failed_devices_is_409_and_changes_nothing(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, _ = await make_bulk_change(
        sessionmaker,
        tenant.id,
        provider.id,
        [result("Success"), result("ValidationFailed", validation_error="bad")],
    )
    answer = await api.post(f"/api/v1/bulk-changes/{bulk_id}/retry", headers=headers(tenant.id))
    assert answer.status_code == 409
    assert answer.json()["type"].endswith("/no-failed-devices")
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, bulk_id)
        logs = await s.scalar(
            select(text("count(*)"))
            .select_from(DeviceChangeLog)
            .where(DeviceChangeLog.bulk_change_id == bulk_id)
        )
    assert bulk.status == "PROCESSED" and logs == 0


async def test_concurrent_retries_requeue_once(api, factory, sessionmaker):
    tenant, bulk_id, _ = await _finished_with_failures(factory, sessionmaker)
    answers = await asyncio.gather(
        *(
            api.post(f"/api/v1/bulk-changes/{bulk_id}/retry", headers=headers(tenant.id))
            for _ in range(3)
        )
    )
    assert sorted(a.status_code for a in answers) == [202, 409, 409]
    async with sessionmaker() as s:
        assert (await s.get(BulkChange, bulk_id)).remaining_count == 2


async def test_retry_of_another_tenants_bulk_change_is_404(api, factory, sessionmaker):
    _, bulk_id, _ = await _finished_with_failures(factory, sessionmaker)
    intruder = await factory.tenant()
    answer = await api.post(f"/api/v1/bulk-changes/{bulk_id}/retry", headers=headers(intruder.id))
    assert answer.status_code == 404
    async with sessionmaker() as s:
        assert (await s.get(BulkChange, bulk_id)).status == "PROCESSED"
