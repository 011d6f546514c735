"""Submitting bulk changes through the API, on the real database."""

from __future__ import annotations

import pytest
from intake_helpers import ensure_carrier_plan
from sqlalchemy import select

from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.models import BulkChange, DeviceChange


def activation(devices: list[str], provider_id: int, **ts: object) -> dict:
    return {
        "Devices": devices,
        "ServiceProviderId": provider_id,
        "ChangeType": 3,
        "StatusUpdate": {
            "TargetStatus": "Active",
            "ThingSpaceStatusUpdate": {"ServicePlan": "M2M_4G", "ZipCode": "92127", **ts},
        },
    }


@pytest.fixture
async def fleet(factory):
    tenant = await factory.tenant(notification_email="ops@example.com")
    provider = await factory.provider()
    await ensure_carrier_plan(factory.sessionmaker, provider.id, "M2M_4G")
    devices = await factory.devices(tenant, provider, 5)
    return tenant, provider, devices


async def test_activation_is_accepted_and_every_device_row_committed(api, fleet, sessionmaker):
    tenant, provider, devices = fleet
    answer = await api.post(
        "/api/v1/bulk-changes",
        json=activation([d.iccid for d in devices], provider.id),
        headers={"X-Tenant-Id": str(tenant.id), "X-User-Email": "op@example.com"},
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["DeviceCount"] == 5 and body["QueuedCount"] == 5
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, body["BulkChangeId"])
        assert bulk.status == "NEW" and bulk.remaining_count == 5
        assert bulk.notify_email == "op@example.com"
        rows = (
            await s.scalars(select(DeviceChange).where(DeviceChange.bulk_change_id == bulk.id))
        ).all()
    assert sorted(r.iccid for r in rows) == sorted(d.iccid for d in devices)
    assert {r.status for r in rows} == {"Queued"}
    assert {r.params["op"] for r in rows} == {"activate"}
    assert all(r.published_at is None for r in rows)


async def test_invalid_devices_are_recorded_with_reasons_and_the_rest_queued(
    api, factory, sessionmaker
):
    tenant = await factory.tenant()
    provider = await factory.provider()
    await ensure_carrier_plan(sessionmaker, provider.id, "M2M_4G")
    ok, active = await factory.devices(tenant, provider, 2)
    other_tenant = await factory.tenant()
    (foreign,) = await factory.devices(other_tenant, provider, 1)
    (bad_imei,) = await factory.devices(tenant, provider, 1, imei="356938035643800")
    async with sessionmaker() as s, s.begin():
        (await s.get(type(active), active.id)).status = DeviceStatus.ACTIVE.value
    submitted = [
        ok.iccid,
        active.iccid,
        foreign.iccid,
        bad_imei.iccid,
        "89148000008245116610",
        "123",
        ok.iccid,
    ]
    answer = await api.post(
        "/api/v1/bulk-changes",
        json=activation(submitted, provider.id),
        headers={"X-Tenant-Id": str(tenant.id)},
    )
    assert answer.status_code == 202, answer.text
    bulk_id = answer.json()["BulkChangeId"]
    assert answer.json()["QueuedCount"] == 1
    page = (
        await api.get(
            f"/api/v1/bulk-changes/{bulk_id}/devices", headers={"X-Tenant-Id": str(tenant.id)}
        )
    ).json()
    reasons = [(i["ICCID"], i["Status"], i["ValidationError"]) for i in page["Items"]]
    assert reasons[0] == (ok.iccid, "Queued", None)
    # Active already, and no place of use to update: refused before the carrier is called.
    assert reasons[1][1] == "ValidationFailed" and "already active" in reasons[1][2]
    assert reasons[2][2] == "device not found for this tenant and service provider"
    assert reasons[3][2] == "IMEI fails its Luhn check"
    assert reasons[4][2] == "ICCID fails its Luhn check"
    assert reasons[5][2] == "ICCID must be 19 or 20 digits"
    assert reasons[6][2] == "device listed more than once in this request"


async def test_activation_without_plan_or_zip_fails_validation(api, factory):
    tenant = await factory.tenant()
    provider = await factory.provider()
    no_plan, _with_plan = await factory.devices(tenant, provider, 2)
    body = activation([no_plan.iccid], provider.id)
    body["StatusUpdate"]["ThingSpaceStatusUpdate"] = {"ZipCode": "92127"}
    answer = await api.post(
        "/api/v1/bulk-changes", json=body, headers={"X-Tenant-Id": str(tenant.id)}
    )
    bulk_id = answer.json()["BulkChangeId"]
    view = (
        await api.get(f"/api/v1/bulk-changes/{bulk_id}", headers={"X-Tenant-Id": str(tenant.id)})
    ).json()
    assert view["Counts"] == {"ValidationFailed": 1}
    assert view["Status"] == "PROCESSED"  # nothing left to run: it is done, and says so
    page = (
        await api.get(
            f"/api/v1/bulk-changes/{bulk_id}/devices", headers={"X-Tenant-Id": str(tenant.id)}
        )
    ).json()
    assert "service plan" in page["Items"][0]["ValidationError"]


async def test_suspend_needs_an_active_device(api, factory):
    tenant = await factory.tenant()
    provider = await factory.provider()
    (active,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    (preactive,) = await factory.devices(tenant, provider, 1)
    body = {
        "Devices": [active.iccid, preactive.iccid],
        "ServiceProviderId": provider.id,
        "ChangeType": 3,
        "StatusUpdate": {"TargetStatus": "Suspend"},
    }
    answer = await api.post(
        "/api/v1/bulk-changes", json=body, headers={"X-Tenant-Id": str(tenant.id)}
    )
    assert answer.json()["QueuedCount"] == 1
    page = (
        await api.get(
            f"/api/v1/bulk-changes/{answer.json()['BulkChangeId']}/devices?status=ValidationFailed",
            headers={"X-Tenant-Id": str(tenant.id)},
        )
    ).json()
    assert [i["ICCID"] for i in page["Items"]] == [preactive.iccid]
    assert "cannot suspend a device that is preactive" in page["Items"][0]["ValidationError"]


@pytest.mark.parametrize("change_type", [0, 2, 10])
async def test_unknown_change_type_is_a_problem_naming_the_supported_ones(api, fleet, change_type):
    tenant, provider, devices = fleet
    answer = await api.post(
        "/api/v1/bulk-changes",
        json={
            "Devices": [devices[0].iccid],
            "ServiceProviderId": provider.id,
            "ChangeType": change_type,
        },
        headers={"X-Tenant-Id": str(tenant.id)},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"].endswith("/unsupported-change-type")
    assert "3 (STATUS_UPDATE)" in problem["detail"] and "9 (DEVICE_DELETION)" in problem["detail"]
    assert problem["supported"] == [1, 3, 4, 5, 6, 7, 8, 9]


async def test_missing_tenant_header_is_401_problem(api):
    answer = await api.post("/api/v1/bulk-changes", json={})
    assert answer.status_code == 401
    assert answer.json()["title"] == "Authentication required"


async def test_malformed_body_is_422_problem_with_errors(api, fleet):
    tenant, *_ = fleet
    answer = await api.post(
        "/api/v1/bulk-changes", json={"Devices": "x"}, headers={"X-Tenant-Id": str(tenant.id)}
    )
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"].endswith("/invalid-request")
    assert {tuple(e["loc"]) for e in problem["errors"]} >= {("body", "ServiceProviderId")}


async def test_unknown_provider_and_bad_target_are_refused(api, fleet):
    tenant, provider, devices = fleet
    headers = {"X-Tenant-Id": str(tenant.id)}
    answer = await api.post(
        "/api/v1/bulk-changes", json=activation([devices[0].iccid], 999_999_999), headers=headers
    )
    assert answer.status_code == 422 and "ServiceProviderId 999999999" in answer.json()["detail"]
    body = activation([devices[0].iccid], provider.id)
    body["StatusUpdate"]["TargetStatus"] = "Frozen"
    answer = await api.post("/api/v1/bulk-changes", json=body, headers=headers)
    assert answer.status_code == 422 and "Frozen" in answer.json()["detail"]


async def test_too_many_devices_is_413(api, fleet):
    tenant, provider, _ = fleet
    answer = await api.post(
        "/api/v1/bulk-changes",
        json=activation(["1"] * 1001, provider.id),
        headers={"X-Tenant-Id": str(tenant.id)},
    )
    assert answer.status_code == 413


async def test_other_tenants_cannot_read_a_bulk_change(api, fleet, factory):
    tenant, provider, devices = fleet
    intruder = await factory.tenant()
    answer = await api.post(
        "/api/v1/bulk-changes",
        json=activation([devices[0].iccid], provider.id),
        headers={"X-Tenant-Id": str(tenant.id)},
    )
    bulk_id = answer.json()["BulkChangeId"]
    assert (
        await api.get(f"/api/v1/bulk-changes/{bulk_id}", headers={"X-Tenant-Id": str(intruder.id)})
    ).status_code == 404


async def test_device_pages_follow_the_cursor(api, factory):
    tenant = await factory.tenant()
    provider = await factory.provider()
    devices = await factory.devices(tenant, provider, 7)
    headers = {"X-Tenant-Id": str(tenant.id)}
    bulk_id = (
        await api.post(
            "/api/v1/bulk-changes",
            json=activation([d.iccid for d in devices], provider.id),
            headers=headers,
        )
    ).json()["BulkChangeId"]
    seen, cursor = [], None
    while True:
        url = f"/api/v1/bulk-changes/{bulk_id}/devices?limit=3" + (
            f"&cursor={cursor}" if cursor else ""
        )
        page = (await api.get(url, headers=headers)).json()
        seen += [i["ICCID"] for i in page["Items"]]
        cursor = page.get("NextCursor")
        if not cursor:
            break
    assert seen == [d.iccid for d in devices]


async def test_openapi_documents_examples_and_problems(api):
    spec = (await api.get("/openapi.json")).json()
    post = spec["paths"]["/api/v1/bulk-changes"]["post"]
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    assert {
        "activate",
        "suspend",
        "restore",
        "deactivate",
        "inventory",
        "portal-status-update",
    } <= set(examples)
    assert {"401", "413", "422"} <= set(post["responses"])


async def test_probes(api):
    assert (await api.get("/healthz")).status_code == 200
    assert (await api.get("/readyz")).json()["database"] == "ok"
