"""The devices of a bulk change, filtered by status, ICCID and error code."""

from __future__ import annotations

from operator_helpers import headers, make_bulk_change, result


async def _devices(api, tenant_id, bulk_id, query: str = "") -> list[dict]:
    answer = await api.get(
        f"/api/v1/bulk-changes/{bulk_id}/devices?{query}", headers=headers(tenant_id)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["Items"]


async def test_filters_by_iccid_error_code_and_status_combine(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, ids = await make_bulk_change(
        sessionmaker,
        tenant.id,
        provider.id,
        [
            result("Failed", error_code="INVALID_SERVICE_PLAN", error_message="no such plan"),
            result("Success"),
            result("Failed", error_code="TIMEOUT", error_message="no answer"),
            result("Retry", error_code="TIMEOUT", error_message="no answer yet"),
            result("Failed", error_code="INVALID_SERVICE_PLAN", error_message="no such plan"),
        ],
    )
    every = await _devices(api, tenant.id, bulk_id)
    assert [d["DeviceChangeId"] for d in every] == ids

    timeouts = await _devices(api, tenant.id, bulk_id, "error_code=TIMEOUT")
    assert [d["DeviceChangeId"] for d in timeouts] == [ids[2], ids[3]]
    failed_timeouts = await _devices(api, tenant.id, bulk_id, "error_code=TIMEOUT&status=Failed")
    assert [d["DeviceChangeId"] for d in failed_timeouts] == [ids[2]]

    one = await _devices(api, tenant.id, bulk_id, f"iccid={every[4]['ICCID']}")
    assert [(d["DeviceChangeId"], d["ErrorCode"]) for d in one] == [
        (ids[4], "INVALID_SERVICE_PLAN")
    ]
    assert (
        await _devices(api, tenant.id, bulk_id, f"iccid={every[4]['ICCID']}&status=Success") == []
    )
    assert await _devices(api, tenant.id, bulk_id, "iccid=8914800000000000000") == []


async def test_filtered_pages_follow_the_cursor(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    statuses = ["Failed", "Success"] * 5
    bulk_id, ids = await make_bulk_change(
        sessionmaker,
        tenant.id,
        provider.id,
        [result(s, error_code="E" if s == "Failed" else None) for s in statuses],
    )
    seen, cursor = [], None
    while True:
        query = "status=Failed&error_code=E&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (
            await api.get(
                f"/api/v1/bulk-changes/{bulk_id}/devices?{query}", headers=headers(tenant.id)
            )
        ).json()
        seen += [d["DeviceChangeId"] for d in page["Items"]]
        cursor = page.get("NextCursor")
        if not cursor:
            break
    assert seen == ids[0::2]


async def test_another_tenants_devices_are_404(api, factory, sessionmaker):
    tenant, intruder = await factory.tenant(), await factory.tenant()
    provider = await factory.provider()
    bulk_id, _ = await make_bulk_change(sessionmaker, tenant.id, provider.id, [result("Failed")])
    answer = await api.get(
        f"/api/v1/bulk-changes/{bulk_id}/devices?status=Failed", headers=headers(intruder.id)
    )
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


async def test_a_bad_device_cursor_is_an_invalid_cursor_problem(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, _ = await make_bulk_change(sessionmaker, tenant.id, provider.id, [result("Queued")])
    answer = await api.get(
        f"/api/v1/bulk-changes/{bulk_id}/devices?cursor=abc", headers=headers(tenant.id)
    )
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/invalid-cursor")
