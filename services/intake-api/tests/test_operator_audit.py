"""The audit trail of a bulk change and of one device change."""

from __future__ import annotations

from operator_helpers import headers, make_bulk_change, result

from devicebulk_common.carriers.base import CarrierExchange
from devicebulk_common.lifecycle import audit


async def _trail(sessionmaker, bulk_id, ids) -> None:
    """Three steps for each of two devices, interleaved, and one for the bulk change."""
    exchange = CarrierExchange(
        operation="activate",
        method="POST",
        url="https://thingspace.test/api/m2m/v1/devices/actions/activate",
        status_code=202,
        request_body='{"devices":[{"deviceIds":[{"kind":"iccid","id":"8914"}]}]}',
        response_body='{"requestId":"req-1"}',
        duration_ms=12.5,
    )
    async with sessionmaker() as session, session.begin():
        for step in ("attempt", "carrier:activate", "callback"):
            for dc in ids:
                audit(
                    session,
                    bulk_change_id=bulk_id,
                    device_change_id=dc,
                    step=step,
                    actor="bulk-worker" if step != "callback" else "callback-receiver",
                    status="Processing",
                    message=f"{step} of {dc}",
                    exchange=exchange if step == "carrier:activate" else None,
                )
            await session.flush()
        audit(
            session,
            bulk_change_id=bulk_id,
            device_change_id=None,
            step="note",
            actor="operator",
            message="about the whole bulk change",
        )


async def test_bulk_change_trail_pages_oldest_first_without_gaps(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, ids = await make_bulk_change(
        sessionmaker, tenant.id, provider.id, [result("Processing"), result("Processing")]
    )
    await _trail(sessionmaker, bulk_id, ids)

    entries, cursor = [], None
    while True:
        url = f"/api/v1/bulk-changes/{bulk_id}/audit?limit=3" + (
            f"&cursor={cursor}" if cursor else ""
        )
        answer = await api.get(url, headers=headers(tenant.id))
        assert answer.status_code == 200, answer.text
        entries += answer.json()["Items"]
        cursor = answer.json().get("NextCursor")
        if not cursor:
            break

    assert [e["Message"] for e in entries] == [
        f"{step} of {dc}" for step in ("attempt", "carrier:activate", "callback") for dc in ids
    ] + ["about the whole bulk change"]
    ids_in_order = [e["AuditEntryId"] for e in entries]
    assert ids_in_order == sorted(set(ids_in_order))
    carrier = entries[2]
    assert carrier["Step"] == "carrier:activate" and carrier["Actor"] == "bulk-worker"
    assert carrier["HttpMethod"] == "POST" and carrier["HttpStatus"] == 202
    assert carrier["HttpUrl"].endswith("/devices/actions/activate")
    assert carrier["RequestText"].startswith('{"devices"')
    assert carrier["ResponseText"] == '{"requestId":"req-1"}'
    assert carrier["DurationMs"] == 12.5
    assert carrier["CreatedAt"]
    assert entries[-1]["DeviceChangeId"] is None


async def test_device_change_trail_has_only_its_own_steps(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, ids = await make_bulk_change(
        sessionmaker, tenant.id, provider.id, [result("Processing"), result("Processing")]
    )
    await _trail(sessionmaker, bulk_id, ids)
    answer = await api.get(
        f"/api/v1/bulk-changes/{bulk_id}/devices/{ids[1]}/audit", headers=headers(tenant.id)
    )
    assert answer.status_code == 200, answer.text
    assert [e["Step"] for e in answer.json()["Items"]] == [
        "attempt",
        "carrier:activate",
        "callback",
    ]
    assert {e["DeviceChangeId"] for e in answer.json()["Items"]} == {ids[1]}

    page = (
        await api.get(
            f"/api/v1/bulk-changes/{bulk_id}/devices/{ids[1]}/audit?limit=2",
            headers=headers(tenant.id),
        )
    ).json()
    rest = (
        await api.get(
            f"/api/v1/bulk-changes/{bulk_id}/devices/{ids[1]}/audit?cursor={page['NextCursor']}",
            headers=headers(tenant.id),
        )
    ).json()
    assert [e["Step"] for e in page["Items"] + rest["Items"]] == [
        "attempt",
        "carrier:activate",
        "callback",
    ]


async def test_audit_of_another_tenant_or_another_bulk_change_is_404(api, factory, sessionmaker):
    tenant, intruder = await factory.tenant(), await factory.tenant()
    provider = await factory.provider()
    bulk_id, ids = await make_bulk_change(sessionmaker, tenant.id, provider.id, [result("Queued")])
    other_bulk, other_ids = await make_bulk_change(
        sessionmaker, tenant.id, provider.id, [result("Queued")]
    )
    await _trail(sessionmaker, bulk_id, ids)
    for url, who in [
        (f"/api/v1/bulk-changes/{bulk_id}/audit", intruder),
        (f"/api/v1/bulk-changes/{bulk_id}/devices/{ids[0]}/audit", intruder),
        (f"/api/v1/bulk-changes/{bulk_id}/devices/{other_ids[0]}/audit", tenant),
        (f"/api/v1/bulk-changes/{other_bulk}/devices/{ids[0]}/audit", tenant),
    ]:
        answer = await api.get(url, headers=headers(who.id))
        assert answer.status_code == 404, url
        assert answer.headers["content-type"] == "application/problem+json"


async def test_a_bad_audit_cursor_is_a_problem(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, _ = await make_bulk_change(sessionmaker, tenant.id, provider.id, [result("Queued")])
    answer = await api.get(
        f"/api/v1/bulk-changes/{bulk_id}/audit?cursor=eyJjIjoxfQ", headers=headers(tenant.id)
    )
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/invalid-cursor")
