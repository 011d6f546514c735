"""Values past what the pipeline can store or the carrier can take are refused at intake with a
clear 4xx problem (never a 500), and the problem never echoes a huge field whole."""

from __future__ import annotations

import json
import uuid

import pytest
from intake_helpers import SUBMIT, headers, table_counts

from devicebulk_common.contracts import DeviceStatus

PROBLEM = "application/problem+json"
INT4_PAST = 2**31


@pytest.fixture
async def fleet(factory):
    tenant = await factory.tenant()
    provider = await factory.provider()
    devices = await factory.devices(tenant, provider, 1, status=DeviceStatus.PREACTIVE)
    return tenant, provider, devices


def activation(provider_id: int, iccid: str, **ts: object) -> dict[str, object]:
    return {
        "ServiceProviderId": provider_id,
        "ChangeType": 3,
        "Devices": [iccid],
        "StatusUpdate": {"TargetStatus": "Active", "ThingSpaceStatusUpdate": ts},
    }


def invalid_at(answer, *loc: object) -> dict:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    found = [e for e in answer.json()["errors"] if e["loc"][-len(loc) :] == list(loc)]
    assert found, answer.json()["errors"]
    return found[0]


async def test_a_tenant_id_past_int4_is_a_422_problem(api):
    answer = await api.post(SUBMIT, json={}, headers={"X-Tenant-Id": str(INT4_PAST)})
    invalid_at(answer, "header", "x-tenant-id")
    listing = await api.get("/api/v1/bulk-changes", headers={"X-Tenant-Id": "9" * 30})
    assert listing.status_code == 422 and listing.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"ServiceProviderId": INT4_PAST}, ("ServiceProviderId",)),
        ({"ChangeType": -INT4_PAST - 1}, ("ChangeType",)),
        (
            {"ChangeType": 4, "CustomerRatePlanUpdate": {"DataAllocationMB": INT4_PAST}},
            ("CustomerRatePlanUpdate", "DataAllocationMB"),
        ),
        (
            {"ChangeType": 4, "CustomerRatePlanUpdate": {"CustomerRatePlanId": INT4_PAST}},
            ("CustomerRatePlanUpdate", "CustomerRatePlanId"),
        ),
    ],
)
async def test_integers_past_their_column_are_refused_per_field(api, fleet, change, loc):
    tenant, provider, devices = fleet
    body = {"ServiceProviderId": provider.id, "Devices": [devices[0].iccid], **change}
    body.setdefault("ChangeType", 5)
    invalid_at(await api.post(SUBMIT, json=body, headers=headers(tenant)), *loc)


@pytest.mark.parametrize(
    ("ts", "field"),
    [
        ({"ServicePlan": "P" * 101, "ZipCode": "94105"}, "ServicePlan"),
        ({"ServicePlan": "PLAN", "ZipCode": "hello"}, "ZipCode"),
        ({"ServicePlan": "PLAN", "ZipCode": "9410"}, "ZipCode"),
        ({"ServicePlan": "PLAN\x00", "ZipCode": "94105"}, "ServicePlan"),
    ],
)
async def test_a_service_plan_or_zip_code_the_carrier_cannot_take_is_refused(
    api, sessionmaker, fleet, ts, field
):
    tenant, provider, devices = fleet
    before = await table_counts(sessionmaker)
    answer = await api.post(
        SUBMIT, json=activation(provider.id, devices[0].iccid, **ts), headers=headers(tenant)
    )
    invalid_at(answer, "ThingSpaceStatusUpdate", field)
    assert await table_counts(sessionmaker) == before


async def test_zip_plus_four_is_accepted(api, fleet):
    tenant, provider, devices = fleet
    body = activation(provider.id, devices[0].iccid, ServicePlan="PLAN", ZipCode="94105-1234")
    answer = await api.post(f"{SUBMIT}/validate", json=body, headers=headers(tenant))
    assert answer.status_code == 200, answer.text


async def test_nul_and_lone_surrogates_are_refused_and_answered_as_valid_json(api, fleet):
    tenant, provider, devices = fleet
    raw = json.dumps(
        {"ServiceProviderId": provider.id, "ChangeType": 5, "Devices": [devices[0].iccid]}
    ).replace('"]', '", "89\\u0000", "89\\ud800"]')
    answer = await api.post(
        SUBMIT, content=raw, headers=headers(tenant, **{"Content-Type": "application/json"})
    )
    invalid_at(answer, "Devices", 1)
    invalid_at(answer, "Devices", 2)
    assert "\\ud800" in answer.json()["errors"][1]["input"]


async def test_a_huge_field_is_echoed_truncated(api, fleet):
    tenant, provider, devices = fleet
    body = activation(provider.id, devices[0].iccid, ServicePlan="PLAN", ZipCode="9" * 300_000)
    answer = await api.post(SUBMIT, json=body, headers=headers(tenant))
    error = invalid_at(answer, "ThingSpaceStatusUpdate", "ZipCode")
    assert len(error["input"]) <= 201
    assert len(answer.content) < 5_000


async def test_an_email_header_over_320_characters_is_refused(api, fleet):
    tenant, provider, devices = fleet
    body = {"ServiceProviderId": provider.id, "ChangeType": 5, "Devices": [devices[0].iccid]}
    email = "a" * 310 + "@example.com"
    answer = await api.post(SUBMIT, json=body, headers=headers(tenant, **{"X-User-Email": email}))
    invalid_at(answer, "header", "x-user-email")


async def test_json_nested_100000_deep_is_a_400_problem(api, fleet):
    tenant, _, _ = fleet
    deep = "[" * 100_000 + "]" * 100_000
    answer = await api.post(
        SUBMIT, content=deep, headers=headers(tenant, **{"Content-Type": "application/json"})
    )
    assert answer.status_code == 400 and answer.headers["content-type"] == PROBLEM
    csv_answer = await api.post(
        f"{SUBMIT}/csv",
        content="ICCID\n",
        headers=headers(
            tenant, **{"Content-Type": "text/csv", "X-Bulk-Change": "[" * 5000 + "]" * 5000}
        ),
    )
    assert csv_answer.status_code == 422 and csv_answer.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("cursor", ["١٢", "²", "9" * 30])
async def test_a_device_cursor_that_is_no_id_is_an_invalid_cursor(api, fleet, cursor):
    tenant, provider, devices = fleet
    body = {"ServiceProviderId": provider.id, "ChangeType": 5, "Devices": [devices[0].iccid]}
    bulk_id = (await api.post(SUBMIT, json=body, headers=headers(tenant))).json()["BulkChangeId"]
    answer = await api.get(
        f"{SUBMIT}/{bulk_id}/devices", params={"cursor": cursor}, headers=headers(tenant)
    )
    assert answer.status_code == 422 and answer.json()["type"].endswith("/invalid-cursor")


async def test_a_path_id_past_its_column_is_404_and_a_query_id_422(api, fleet):
    tenant, provider, devices = fleet
    body = {"ServiceProviderId": provider.id, "ChangeType": 5, "Devices": [devices[0].iccid]}
    bulk_id = (await api.post(SUBMIT, json=body, headers=headers(tenant))).json()["BulkChangeId"]
    for device_change_id in (2**63, -(2**63) - 1, 2**70):
        audit = await api.get(
            f"{SUBMIT}/{bulk_id}/devices/{device_change_id}/audit", headers=headers(tenant)
        )
        assert audit.status_code == 404 and audit.headers["content-type"] == PROBLEM
    unknown = await api.get(f"{SUBMIT}/{uuid.uuid4()}", headers=headers(tenant))
    assert unknown.status_code == 404
    listing = await api.get(
        SUBMIT, params={"service_provider_id": INT4_PAST}, headers=headers(tenant)
    )
    invalid_at(listing, "query", "service_provider_id")
    assert json.loads(listing.content)["status"] == 422


@pytest.mark.parametrize(
    ("path", "param"),
    [("/devices", "iccid"), ("/devices", "error_code"), ("", "created_by")],
)
async def test_a_nul_in_a_query_string_is_a_422_problem(api, fleet, path, param):
    tenant, provider, devices = fleet
    body = {"ServiceProviderId": provider.id, "ChangeType": 5, "Devices": [devices[0].iccid]}
    bulk_id = (await api.post(SUBMIT, json=body, headers=headers(tenant))).json()["BulkChangeId"]
    url = f"{SUBMIT}/{bulk_id}{path}" if path else SUBMIT
    answer = await api.get(url, params={param: "89\x00"}, headers=headers(tenant))
    invalid_at(answer, "query", param)
