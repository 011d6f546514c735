"""The portal's six sample requests, sent exactly as they are (provider 4, device
89148000008245116615), and the proposed ThingSpace shapes: all accepted with 202."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from intake_helpers import (
    ensure_carrier_plan,
    ensure_catalogue,
    ensure_device,
    ensure_provider,
    stored,
)
from sqlalchemy import update

from devicebulk_common.models import CustomerRatePlan, CustomerRatePool, RevCustomer, RevService

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE_ICCID = "89148000008245116615"
SAMPLE_IMEI = "356938035643809"

# Sample file → what its one device gets (the status update carries no ZIP code: the portal's
# Jasper parameters mean nothing to ThingSpace, so its device fails validation, and the bulk
# change is still accepted).
SAMPLES = {
    "assign-customer.json": ("Queued", "assign_customer"),
    "status-update.json": ("ValidationFailed", None),
    "customer-rate-plan.json": ("Queued", "change_customer_plan"),
    "archival.json": ("Queued", "archive"),
    "edit-username.json": ("Queued", "edit_username"),
    "carrier-rate-plan.json": ("Queued", "change_plan"),
}


@pytest.fixture
async def portal_tenant(factory, sessionmaker, credentials_key):
    """Provider 4 and what the samples name: the device, Rev customer 12345, customer rate
    plan 123 and pool 456, carrier plan STANDARD_PLAN_001, all the new tenant's."""
    tenant = await factory.tenant()
    await ensure_provider(sessionmaker, 4, credentials_key)
    device = await ensure_device(
        sessionmaker,
        tenant.id,
        4,
        SAMPLE_ICCID,
        imei=SAMPLE_IMEI,
        status="preactive",
        carrier_rate_plan="M2M_4G",
    )
    async with sessionmaker() as s, s.begin():
        await s.execute(
            update(RevService).where(RevService.device_id == device.id).values(is_active=False)
        )
    await ensure_catalogue(sessionmaker, RevCustomer, "12345", tenant.id)
    await ensure_catalogue(sessionmaker, CustomerRatePlan, 123, tenant.id)
    await ensure_catalogue(sessionmaker, CustomerRatePool, 456, tenant.id)
    await ensure_carrier_plan(sessionmaker, 4, "STANDARD_PLAN_001")
    return tenant


@pytest.mark.parametrize("sample", sorted(SAMPLES))
async def test_a_portal_sample_is_accepted_verbatim(api, sessionmaker, portal_tenant, sample):
    raw = (FIXTURES / sample).read_bytes()
    assert json.loads(raw)["ServiceProviderId"] == 4
    answer = await api.post(
        "/api/v1/bulk-changes",
        content=raw,
        headers={"X-Tenant-Id": str(portal_tenant.id), "Content-Type": "application/json"},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["DeviceCount"] == 1
    rows = await stored(sessionmaker, answer.json()["BulkChangeId"])
    status, op = SAMPLES[sample]
    assert rows[SAMPLE_ICCID].status == status, rows[SAMPLE_ICCID]
    assert rows[SAMPLE_ICCID].op == op


async def test_the_status_update_sample_device_fails_for_want_of_a_zip_code(
    api, sessionmaker, portal_tenant
):
    answer = await api.post(
        "/api/v1/bulk-changes",
        content=(FIXTURES / "status-update.json").read_bytes(),
        headers={"X-Tenant-Id": str(portal_tenant.id), "Content-Type": "application/json"},
    )
    assert answer.json()["Status"] == "PROCESSED"  # nothing to run: done at once
    rows = await stored(sessionmaker, answer.json()["BulkChangeId"])
    assert "ZIP code" in rows[SAMPLE_ICCID].validation_error


@pytest.fixture
async def proposed_tenant(factory, sessionmaker, credentials_key):
    tenant = await factory.tenant()
    await ensure_provider(sessionmaker, 1, credentials_key)
    await ensure_carrier_plan(sessionmaker, 1, "M2M_4G")
    return tenant


async def test_the_proposed_activation_with_a_place_of_use_is_accepted(
    api, sessionmaker, proposed_tenant
):
    await ensure_device(sessionmaker, proposed_tenant.id, 1, SAMPLE_ICCID, imei=SAMPLE_IMEI)
    answer = await api.post(
        "/api/v1/bulk-changes",
        content=(FIXTURES / "proposed" / "thingspace-activate.json").read_bytes(),
        headers={"X-Tenant-Id": str(proposed_tenant.id), "Content-Type": "application/json"},
    )
    assert answer.status_code == 202, answer.text
    rows = await stored(sessionmaker, answer.json()["BulkChangeId"])
    params = rows[SAMPLE_ICCID].params
    assert params["op"] == "activate" and params["service_plan"] == "M2M_4G"
    assert params["zip_code"] and params["place_of_use"]["zip"]


async def test_the_proposed_iccid_change_without_devices_is_accepted(
    api, sessionmaker, proposed_tenant
):
    await ensure_device(
        sessionmaker,
        proposed_tenant.id,
        1,
        SAMPLE_ICCID,
        imei=SAMPLE_IMEI,
        status="active",
        msisdn="15551230000",
    )
    raw = (FIXTURES / "proposed" / "thingspace-change-iccid.json").read_bytes()
    assert "Devices" not in json.loads(raw)
    answer = await api.post(
        "/api/v1/bulk-changes",
        content=raw,
        headers={"X-Tenant-Id": str(proposed_tenant.id), "Content-Type": "application/json"},
    )
    assert answer.status_code == 202, answer.text
    rows = await stored(sessionmaker, answer.json()["BulkChangeId"])
    assert rows[SAMPLE_ICCID].status == "Queued"
    assert rows[SAMPLE_ICCID].params["new_iccid"] == "89148000008245116623"
