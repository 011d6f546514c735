"""Cancelling what has not run: counted down like any terminal transition, completed once."""

from __future__ import annotations

import asyncio

from operator_helpers import completion_events, headers, make_bulk_change, result
from sqlalchemy import select

from devicebulk_common import contracts as c
from devicebulk_common.lifecycle import finish_device_change
from devicebulk_common.models import BulkChange, DeviceChange


async def _statuses(sessionmaker, bulk_id) -> list[str]:
    async with sessionmaker() as s:
        return list(
            await s.scalars(
                select(DeviceChange.status)
                .where(DeviceChange.bulk_change_id == bulk_id)
                .order_by(DeviceChange.id)
            )
        )


async def test_queued_and_retry_devices_are_cancelled_and_running_ones_left(
    api, factory, sessionmaker
):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, ids = await make_bulk_change(
        sessionmaker,
        tenant.id,
        provider.id,
        [
            result("Queued"),
            result("Retry", error_code="TIMEOUT", error_message="no answer"),
            result("Processing"),
            result("AwaitingCallback", carrier_request_id="req-1"),
            result("Success"),
            result("Queued"),
        ],
    )

    answer = await api.post(
        f"/api/v1/bulk-changes/{bulk_id}/cancel", headers=headers(tenant.id, "ops@example.test")
    )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "BulkChangeId": str(bulk_id),
        "Status": "PROCESSING",
        "CancelledCount": 3,
        "StillRunningCount": 2,
    }
    assert await _statuses(sessionmaker, bulk_id) == [
        "Cancelled",
        "Cancelled",
        "Processing",
        "AwaitingCallback",
        "Success",
        "Cancelled",
    ]
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, bulk_id)
        retried = await s.get(DeviceChange, ids[1])
    assert bulk.remaining_count == 2 and bulk.status == "PROCESSING"
    assert retried.completed_at is not None and retried.error_code is None
    assert retried.error_message == "cancelled by ops@example.test"
    assert await completion_events(sessionmaker, bulk_id) == []

    trail = (
        await api.get(f"/api/v1/bulk-changes/{bulk_id}/audit", headers=headers(tenant.id))
    ).json()["Items"]
    per_device = {e["DeviceChangeId"]: e["Message"] for e in trail if e["DeviceChangeId"]}
    assert per_device == {
        ids[0]: "cancelled by ops@example.test (it was Queued)",
        ids[1]: "cancelled by ops@example.test (it was Retry)",
        ids[5]: "cancelled by ops@example.test (it was Queued)",
    }
    (summary,) = [e for e in trail if e["DeviceChangeId"] is None]
    assert summary["Step"] == "cancel" and "3 device changes cancelled" in summary["Message"]

    # The running ones end; the last of them completes the bulk change, once.
    for dc_id in (ids[2], ids[3]):
        async with sessionmaker() as s, s.begin():
            await finish_device_change(s, dc_id, c.DeviceChangeStatus.SUCCESS)
    (event,) = await completion_events(sessionmaker, bulk_id)
    assert event.completion_seq == 1
    view = (await api.get(f"/api/v1/bulk-changes/{bulk_id}", headers=headers(tenant.id))).json()
    assert view["Status"] == "PROCESSED"
    assert view["Counts"] == {"Cancelled": 3, "Success": 3}


async def test_cancelling_everything_left_completes_at_once(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, _ = await make_bulk_change(
        sessionmaker,
        tenant.id,
        provider.id,
        [result("Queued"), result("Success"), result("Queued")],
        status="NEW",
    )
    answer = await api.post(f"/api/v1/bulk-changes/{bulk_id}/cancel", headers=headers(tenant.id))
    assert answer.json()["Status"] == "PROCESSED"
    assert answer.json()["CancelledCount"] == 2 and answer.json()["StillRunningCount"] == 0
    (event,) = await completion_events(sessionmaker, bulk_id)
    assert event.completion_seq == 1
    async with sessionmaker() as s:
        assert (await s.get(BulkChange, bulk_id)).remaining_count == 0

    again = await api.post(f"/api/v1/bulk-changes/{bulk_id}/cancel", headers=headers(tenant.id))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"].endswith("/bulk-change-finished")
    assert len(await completion_events(sessionmaker, bulk_id)) == 1


async def test_concurrent_cancels_cancel_each_device_once_and_complete_once(
    api, factory, sessionmaker
):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, _ = await make_bulk_change(
        sessionmaker, tenant.id, provider.id, [result("Queued")] * 50 + [result("Retry")] * 10
    )
    answers = await asyncio.gather(
        *(
            api.post(f"/api/v1/bulk-changes/{bulk_id}/cancel", headers=headers(tenant.id))
            for _ in range(4)
        )
    )
    cancelled = [a.json()["CancelledCount"] for a in answers if a.status_code == 200]
    assert sum(cancelled) == 60
    assert all(a.status_code in (200, 409) for a in answers)
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, bulk_id)
    assert (bulk.status, bulk.remaining_count) == ("PROCESSED", 0)
    assert len(await completion_events(sessionmaker, bulk_id)) == 1


async def test_cancel_with_nothing_waiting_cancels_nothing(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, _ = await make_bulk_change(
        sessionmaker, tenant.id, provider.id, [result("Processing"), result("Success")]
    )
    answer = await api.post(f"/api/v1/bulk-changes/{bulk_id}/cancel", headers=headers(tenant.id))
    assert answer.status_code == 200
    assert answer.json()["CancelledCount"] == 0 and answer.json()["StillRunningCount"] == 1
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, bulk_id)
    assert (bulk.status, bulk.remaining_count) == ("PROCESSING", 1)


async def test_cancel_of_another_tenants_bulk_change_is_404(api, factory, sessionmaker):
    tenant, intruder = await factory.tenant(), await factory.tenant()
    provider = await factory.provider()
    bulk_id, _ = await make_bulk_change(sessionmaker, tenant.id, provider.id, [result("Queued")])
    answer = await api.post(f"/api/v1/bulk-changes/{bulk_id}/cancel", headers=headers(intruder.id))
    assert answer.status_code == 404
    assert await _statuses(sessionmaker, bulk_id) == ["Queued"]


async def test_openapi_documents_the_operator_routes_and_their_problems(api):
    spec = (await api.get("/openapi.json")).json()
    paths = spec["paths"]
    expected = {
        ("/api/v1/bulk-changes", "get"): {"401", "422"},
        ("/api/v1/bulk-changes/{bulk_change_id}/audit", "get"): {"401", "404", "422"},
        (
            "/api/v1/bulk-changes/{bulk_change_id}/devices/{device_change_id}/audit",
            "get",
        ): {"401", "404", "422"},
        ("/api/v1/bulk-changes/{bulk_change_id}/results.csv", "get"): {"401", "404"},
        ("/api/v1/bulk-changes/{bulk_change_id}/retry", "post"): {"401", "404", "409"},
        ("/api/v1/bulk-changes/{bulk_change_id}/cancel", "post"): {"401", "404", "409"},
        ("/api/v1/bulk-changes/{bulk_change_id}/devices", "get"): {"401", "404", "422"},
    }
    for (path, method), problems in expected.items():
        operation = paths[path][method]
        assert operation["summary"] and operation["description"], path
        assert problems <= set(operation["responses"]), path
        for status in problems:
            assert "application/problem+json" in operation["responses"][status]["content"]
    csv_ok = paths["/api/v1/bulk-changes/{bulk_change_id}/results.csv"]["get"]["responses"]["200"]
    assert "text/csv" in csv_ok["content"]
    listed = paths["/api/v1/bulk-changes"]["get"]["responses"]["200"]["content"]
    assert listed["application/json"]["schema"]["$ref"].endswith("/BulkChangePage")
