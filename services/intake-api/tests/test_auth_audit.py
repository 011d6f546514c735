"""The audit trail names who: with bearer tokens, every row the intake writes for a caller
(retry, cancel, a bulk change that cannot run) records the token's subject as its actor, and
the bulk change records it as its creator."""

from __future__ import annotations

import uuid

from intake_auth_helpers import bearer
from operator_helpers import make_bulk_change, result
from sqlalchemy import select

from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.models import BulkChange, DeviceChangeLog

SUBJECT = "okta|00u1f2e3d4c5b6a7"


async def _trail(sessionmaker, bulk_id: uuid.UUID, step: str) -> list[tuple[str, str]]:
    async with sessionmaker() as s:
        rows = await s.execute(
            select(DeviceChangeLog.actor, DeviceChangeLog.message)
            .where(DeviceChangeLog.bulk_change_id == bulk_id, DeviceChangeLog.step == step)
            .order_by(DeviceChangeLog.id)
        )
        return [(r.actor, r.message) for r in rows]


async def test_retry_and_cancel_record_the_token_subject(jwt_api, issuer, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    token = bearer(issuer.token(issuer.key, tenant.id, sub=SUBJECT, email="ops@example.test"))
    finished, _ = await make_bulk_change(
        sessionmaker, tenant.id, provider.id, [result("Failed", error_code="TIMEOUT")]
    )
    running, _ = await make_bulk_change(
        sessionmaker, tenant.id, provider.id, [result("Queued"), result("Queued")]
    )

    retried = await jwt_api.post(f"/api/v1/bulk-changes/{finished}/retry", headers=token)
    cancelled = await jwt_api.post(f"/api/v1/bulk-changes/{running}/cancel", headers=token)

    assert retried.status_code == 202 and cancelled.status_code == 200
    retry_rows = await _trail(sessionmaker, finished, "retry")
    cancel_rows = await _trail(sessionmaker, running, "cancel")
    assert len(retry_rows) == 2 and len(cancel_rows) == 3  # per device, and the bulk change's
    for actor, message in retry_rows + cancel_rows:
        assert actor == SUBJECT
        assert SUBJECT in message
    # And the audit page shows it.
    page = await jwt_api.get(f"/api/v1/bulk-changes/{running}/audit", headers=token)
    assert {item["Actor"] for item in page.json()["Items"]} == {SUBJECT}


async def test_a_bulk_change_that_cannot_run_records_its_submitter(
    jwt_api, issuer, factory, sessionmaker
):
    tenant = await factory.tenant()
    provider = await factory.provider(write_enabled=False)
    devices = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    token = bearer(issuer.token(issuer.key, tenant.id, sub=SUBJECT))

    answer = await jwt_api.post(
        "/api/v1/bulk-changes",
        json={
            "Devices": [d.iccid for d in devices],
            "ServiceProviderId": provider.id,
            "ChangeType": 3,
            "StatusUpdate": {"TargetStatus": "Suspend"},
        },
        headers=token,
    )

    assert answer.status_code == 202 and answer.json()["Status"] == "ERROR"
    bulk_id = uuid.UUID(answer.json()["BulkChangeId"])
    assert [actor for actor, _ in await _trail(sessionmaker, bulk_id, "intake:cannot_run")] == [
        SUBJECT
    ]
    async with sessionmaker() as s:
        assert (await s.get(BulkChange, bulk_id)).created_by == SUBJECT
