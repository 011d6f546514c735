"""ChangeType 5 Archival, 6 EditUsername and 9 device deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from intake_helpers import now, rev_customer, rev_service, set_device, submit_and_read

from devicebulk_common.contracts import DeviceStatus


@pytest.fixture
async def account(factory):
    return await factory.tenant(), await factory.provider()


def plain(change_type, devices, provider, **extra):
    return {
        "Devices": [d.iccid for d in devices],
        "ServiceProviderId": provider.id,
        "ChangeType": change_type,
        **extra,
    }


# ---- 5 Archival ---------------------------------------------------------------------------------


@pytest.fixture
async def archivable(factory, sessionmaker, account):
    """An idle device, one used 10 days ago, one with an active Rev service, one whose Rev
    service ended."""
    tenant, provider = account
    idle, recent, served, ended = await factory.devices(tenant, provider, 4)
    customer = await rev_customer(sessionmaker, tenant.id)
    await rev_service(sessionmaker, served, customer)
    await rev_service(sessionmaker, ended, customer, is_active=False)
    await set_device(sessionmaker, idle, last_usage_at=now() - timedelta(days=45))
    await set_device(sessionmaker, recent, last_usage_at=now() - timedelta(days=10))
    return idle, recent, served, ended


async def test_archival_refuses_recent_usage_and_an_active_rev_service(
    api, sessionmaker, account, archivable
):
    tenant, provider = account
    idle, recent, served, ended = archivable
    rows = await submit_and_read(
        api, sessionmaker, tenant, plain(5, [idle, recent, served, ended], provider)
    )
    assert rows[idle.iccid].params == {"op": "archive"}
    assert rows[ended.iccid].params == {"op": "archive"}
    assert rows[recent.iccid].validation_error.startswith("device was used in the last 30 days")
    assert rows[served.iccid].validation_error.startswith("device has an active Rev service")


async def test_archival_with_override_validation_archives_them_all(
    api, sessionmaker, account, archivable
):
    tenant, provider = account
    rows = await submit_and_read(
        api, sessionmaker, tenant, plain(5, archivable, provider, OverrideValidation=True)
    )
    assert {r.status for r in rows.values()} == {"Queued"}
    assert {r.op for r in rows.values()} == {"archive"}


# ---- 6 EditUsername -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "params"),
    [
        ({"NewUsername": "u" * 50, "CostCenter": "c" * 36}, ("u" * 50, "c" * 36)),
        ({"NewUsername": "only-the-name"}, ("only-the-name", None)),
        ({"CostCenter": "CC-1"}, (None, "CC-1")),
    ],
)
async def test_a_username_and_cost_center_within_the_carriers_limits(
    api, sessionmaker, factory, account, payload, params
):
    tenant, provider = account
    (device,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    rows = await submit_and_read(
        api, sessionmaker, tenant, plain(6, [device], provider, Username=payload)
    )
    assert rows[device.iccid].params == {
        "op": "edit_username",
        "username": params[0],
        "cost_center": params[1],
    }


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"NewUsername": "u" * 51}, "NewUsername is 51 characters"),
        ({"NewUsername": "ok", "CostCenter": "c" * 37}, "CostCenter is 37 characters"),
        ({}, "nothing to change"),
        ({"NewUsername": "", "CostCenter": None}, "nothing to change"),
    ],
)
async def test_a_username_or_cost_center_too_long_or_neither_fails(
    api, sessionmaker, factory, account, payload, reason
):
    tenant, provider = account
    (device,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    rows = await submit_and_read(
        api, sessionmaker, tenant, plain(6, [device], provider, Username=payload)
    )
    assert rows[device.iccid].status == "ValidationFailed"
    assert reason in rows[device.iccid].validation_error


# ---- 9 device deletion --------------------------------------------------------------------------


async def test_only_a_deactivated_device_can_be_deleted(api, sessionmaker, factory, account):
    tenant, provider = account
    (deactivated,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.DEACTIVATED)
    (active,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    rows = await submit_and_read(
        api, sessionmaker, tenant, plain(9, [deactivated, active], provider)
    )
    assert rows[deactivated.iccid].params == {"op": "delete"}
    assert rows[active.iccid].validation_error == (
        "cannot delete a device that is active (only a deactivated device can be deleted)"
    )
