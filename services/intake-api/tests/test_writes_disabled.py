"""A provider whose write operations are disabled: a change at the carrier is stored as ERROR,
its valid devices Cancelled, nothing queued, and its completion announced; database-only
change types go ahead."""

from __future__ import annotations

import uuid

import pytest
from intake_helpers import headers, rev_customer, stored, submit
from sqlalchemy import select

from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.models import BulkChange, DeviceChangeLog, OutboxMessage


@pytest.fixture
async def read_only(factory):
    tenant = await factory.tenant()
    provider = await factory.provider(write_enabled=False)
    active = await factory.devices(tenant, provider, 2, status=DeviceStatus.ACTIVE)
    (preactive,) = await factory.devices(tenant, provider, 1)
    return tenant, provider, [*active, preactive]


def suspend(devices, provider):
    return {
        "Devices": [d.iccid for d in devices],
        "ServiceProviderId": provider.id,
        "ChangeType": 3,
        "StatusUpdate": {"TargetStatus": "Suspend"},
    }


async def test_a_carrier_change_is_stored_as_error_with_its_devices_cancelled(
    api, sessionmaker, read_only
):
    tenant, provider, devices = read_only
    reason = f"write operations are disabled for service provider {provider.id}"

    answer = await submit(api, tenant, suspend(devices, provider))

    assert answer["Status"] == "ERROR" and answer["ErrorReason"] == reason
    assert (answer["QueuedCount"], answer["CancelledCount"], answer["ValidationFailedCount"]) == (
        0,
        2,
        1,
    )
    rows = await stored(sessionmaker, answer["BulkChangeId"])
    for device in devices[:2]:
        row = rows[device.iccid]
        assert (row.status, row.error_code, row.error_message) == (
            "Cancelled",
            "WritesDisabled",
            reason,
        )
        assert row.op == "suspend"  # what would have run
    assert rows[devices[2].iccid].status == "ValidationFailed"
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, uuid.UUID(answer["BulkChangeId"]))
        events = (
            await s.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.body["bulk_change_id"].astext == answer["BulkChangeId"]
                )
            )
        ).all()
        trail = (
            await s.scalars(
                select(DeviceChangeLog).where(DeviceChangeLog.bulk_change_id == bulk.id)
            )
        ).all()
    assert bulk.status == "ERROR" and bulk.error_reason == reason
    assert [(t.step, t.status) for t in trail] == [("intake:cannot_run", "ERROR")]
    assert reason in trail[0].message
    assert bulk.remaining_count == 0 and bulk.processed_at is not None
    assert [(e.routing_key, e.body["status"]) for e in events] == [
        ("bulk_change.completed", "ERROR")
    ]
    view = (
        await api.get(f"/api/v1/bulk-changes/{answer['BulkChangeId']}", headers=headers(tenant))
    ).json()
    assert view["Status"] == "ERROR" and view["ErrorReason"] == reason
    assert view["Counts"] == {"Cancelled": 2, "ValidationFailed": 1}
    assert view["Progress"]["Percent"] == 100.0


@pytest.mark.parametrize(
    "body",
    [
        {"ChangeType": 6, "Username": {"NewUsername": "x"}},
        {"ChangeType": 9},
        {"ChangeType": 7, "CarrierRatePlanUpdate": {"CarrierRatePlan": "ANY"}},
    ],
)
async def test_every_change_type_that_calls_the_carrier_is_refused(api, read_only, body):
    tenant, provider, devices = read_only
    answer = await submit(
        api,
        tenant,
        {"Devices": [d.iccid for d in devices], "ServiceProviderId": provider.id, **body},
    )
    assert answer["Status"] == "ERROR" and answer["QueuedCount"] == 0


async def test_database_only_change_types_are_not_affected(api, sessionmaker, read_only):
    tenant, provider, devices = read_only
    customer = await rev_customer(sessionmaker, tenant.id)
    archival = await submit(
        api,
        tenant,
        {"Devices": [devices[0].iccid], "ServiceProviderId": provider.id, "ChangeType": 5},
    )
    assignment = await submit(
        api,
        tenant,
        {
            "Devices": [devices[1].iccid],
            "ServiceProviderId": provider.id,
            "ChangeType": 1,
            "RevService": {"RevCustomerId": customer},
        },
    )
    assert archival["Status"] == assignment["Status"] == "NEW"
    assert archival["QueuedCount"] == assignment["QueuedCount"] == 1
    assert "ErrorReason" not in archival


async def test_a_repeated_key_answers_the_error_again(api, read_only):
    tenant, provider, devices = read_only
    key = {"Idempotency-Key": "read-only-1"}
    first = await submit(api, tenant, suspend(devices, provider), **key)
    again = await api.post(
        "/api/v1/bulk-changes", json=suspend(devices, provider), headers=headers(tenant, **key)
    )
    assert again.status_code == 202 and again.json() == first
