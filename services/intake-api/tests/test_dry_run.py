"""POST /api/v1/bulk-changes/validate: the verdicts a submit would store, storing nothing."""

from __future__ import annotations

from intake_helpers import headers, stored, submit, table_counts

from devicebulk_common.contracts import DeviceStatus

VALIDATE = "/api/v1/bulk-changes/validate"


def suspend(iccids, provider_id):
    return {
        "Devices": iccids,
        "ServiceProviderId": provider_id,
        "ChangeType": 3,
        "StatusUpdate": {"TargetStatus": "Suspend"},
    }


async def test_the_dry_run_answers_each_devices_verdict_and_creates_nothing(
    api, sessionmaker, factory
):
    tenant = await factory.tenant()
    provider = await factory.provider()
    (active,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    (preactive,) = await factory.devices(tenant, provider, 1)
    body = suspend([active.iccid, preactive.iccid, "123"], provider.id)
    before = await table_counts(sessionmaker)

    answer = await api.post(VALIDATE, json=body, headers=headers(tenant))

    assert answer.status_code == 200, answer.text
    assert await table_counts(sessionmaker) == before
    report = answer.json()
    assert report["DeviceCount"] == 3 and report["OkCount"] == 1 and report["FailedCount"] == 2
    assert "ErrorReason" not in report
    assert report["Devices"][0] == {"ICCID": active.iccid, "Ok": True, "Operation": "suspend"}
    assert report["Devices"][1]["Ok"] is False
    assert report["Devices"][1]["Error"].startswith("cannot suspend a device that is preactive")
    assert report["Devices"][2] == {
        "ICCID": "123",
        "Ok": False,
        "Error": "ICCID must be 19 or 20 digits",
    }


async def test_the_dry_run_says_what_the_submit_then_stores(api, sessionmaker, factory):
    tenant = await factory.tenant()
    provider = await factory.provider()
    devices = await factory.devices(tenant, provider, 3, status=DeviceStatus.SUSPENDED)
    body = suspend([d.iccid for d in devices] + [devices[0].iccid], provider.id)
    report = (await api.post(VALIDATE, json=body, headers=headers(tenant))).json()
    rows = await stored(sessionmaker, (await submit(api, tenant, body))["BulkChangeId"])
    by_iccid = {d["ICCID"]: d for d in report["Devices"]}
    assert len(report["Devices"]) == 4 and report["OkCount"] == 0
    for iccid, row in rows.items():
        assert by_iccid[iccid]["Error"] == row.validation_error


async def test_the_dry_run_of_a_provider_with_writes_disabled_gives_the_reason(
    api, sessionmaker, factory
):
    tenant = await factory.tenant()
    provider = await factory.provider(write_enabled=False)
    (device,) = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    before = await table_counts(sessionmaker)
    report = (
        await api.post(VALIDATE, json=suspend([device.iccid], provider.id), headers=headers(tenant))
    ).json()
    assert await table_counts(sessionmaker) == before
    assert report["ErrorReason"] == (
        f"write operations are disabled for service provider {provider.id}"
    )
    assert report["Devices"][0]["Ok"] is True


async def test_the_dry_run_refuses_a_bad_request_like_the_submit(api, factory):
    tenant = await factory.tenant()
    answer = await api.post(
        VALIDATE,
        json={"Devices": ["1"], "ServiceProviderId": 1, "ChangeType": 2},
        headers=headers(tenant),
    )
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/unsupported-change-type")
