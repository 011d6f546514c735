"""``Idempotency-Key`` on submit: a repeat gets the first answer; another request, a 409."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from intake_helpers import SUBMIT, headers
from sqlalchemy import func, select

from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.models import BulkChange, DeviceChange


def suspend(devices, provider):
    return {
        "Devices": [d.iccid for d in devices],
        "ServiceProviderId": provider.id,
        "ChangeType": 3,
        "StatusUpdate": {"TargetStatus": "Suspend"},
    }


@pytest.fixture
async def fleet(factory):
    tenant = await factory.tenant()
    provider = await factory.provider()
    active = await factory.devices(tenant, provider, 2, status=DeviceStatus.ACTIVE)
    (preactive,) = await factory.devices(tenant, provider, 1)
    return tenant, provider, [*active, preactive]


async def bulk_changes_with_key(sessionmaker, tenant, key):
    async with sessionmaker() as s:
        ids = (
            await s.scalars(
                select(BulkChange.id).where(
                    BulkChange.tenant_id == tenant.id, BulkChange.idempotency_key == key
                )
            )
        ).all()
        rows = await s.scalar(
            select(func.count())
            .select_from(DeviceChange)
            .where(DeviceChange.bulk_change_id.in_(ids))
        )
    return ids, rows


async def test_a_repeated_key_answers_the_first_answer_and_creates_nothing(
    api, sessionmaker, fleet
):
    tenant, provider, devices = fleet
    key = str(uuid.uuid4())
    send = {"Idempotency-Key": key}
    first = await api.post(SUBMIT, json=suspend(devices, provider), headers=headers(tenant, **send))
    again = await api.post(SUBMIT, json=suspend(devices, provider), headers=headers(tenant, **send))
    assert first.status_code == again.status_code == 202
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert first.json()["QueuedCount"] == 2 and first.json()["ValidationFailedCount"] == 1
    ids, rows = await bulk_changes_with_key(sessionmaker, tenant, key)
    assert [str(i) for i in ids] == [first.json()["BulkChangeId"]] and rows == 3


async def test_a_repeated_key_answers_processed_when_no_device_passed(api, fleet):
    tenant, provider, devices = fleet
    send = headers(tenant, **{"Idempotency-Key": "all-invalid"})
    body = suspend(devices[2:], provider)
    first = await api.post(SUBMIT, json=body, headers=send)
    again = await api.post(SUBMIT, json=body, headers=send)
    assert first.json()["Status"] == "PROCESSED"
    assert again.json() == first.json()


async def test_the_same_key_with_another_request_is_a_409_problem(api, sessionmaker, fleet):
    tenant, provider, devices = fleet
    send = headers(tenant, **{"Idempotency-Key": "k-1"})
    first = await api.post(SUBMIT, json=suspend(devices[:1], provider), headers=send)
    other = await api.post(SUBMIT, json=suspend(devices[:2], provider), headers=send)
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    problem = other.json()
    assert problem["type"].endswith("/idempotency-key-reused")
    assert problem["BulkChangeId"] == first.json()["BulkChangeId"]
    ids, _ = await bulk_changes_with_key(sessionmaker, tenant, "k-1")
    assert len(ids) == 1


async def test_keys_are_per_tenant(api, factory, fleet):
    tenant, provider, devices = fleet
    other_tenant = await factory.tenant()
    (theirs,) = await factory.devices(other_tenant, provider, 1, status=DeviceStatus.ACTIVE)
    key = {"Idempotency-Key": "shared-key"}
    mine = await api.post(SUBMIT, json=suspend(devices, provider), headers=headers(tenant, **key))
    their = await api.post(
        SUBMIT, json=suspend([theirs], provider), headers=headers(other_tenant, **key)
    )
    assert mine.status_code == their.status_code == 202
    assert mine.json()["BulkChangeId"] != their.json()["BulkChangeId"]


async def test_concurrent_submits_with_one_key_create_one_bulk_change(api, sessionmaker, fleet):
    tenant, provider, devices = fleet
    key = str(uuid.uuid4())
    answers = await asyncio.gather(
        *(
            api.post(
                SUBMIT,
                json=suspend(devices, provider),
                headers=headers(tenant, **{"Idempotency-Key": key}),
            )
            for _ in range(6)
        )
    )
    assert {a.status_code for a in answers} == {202}, [a.text for a in answers]
    assert len({a.json()["BulkChangeId"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 5
    ids, rows = await bulk_changes_with_key(sessionmaker, tenant, key)
    assert len(ids) == 1 and rows == 3


async def test_a_key_longer_than_200_characters_is_refused(api, fleet):
    tenant, provider, devices = fleet
    answer = await api.post(
        SUBMIT,
        json=suspend(devices, provider),
        headers=headers(tenant, **{"Idempotency-Key": "k" * 201}),
    )
    assert answer.status_code == 422
