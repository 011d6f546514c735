"""A 200-device activation through every process: intake, relay, RabbitMQ, worker, the
ThingSpace simulator, its callbacks, the receiver, the notifier and a real SMTP server."""

from __future__ import annotations

import csv
import email
import io
import time
from email import policy

import httpx
import pytest
from sqlalchemy import func, select

from devicebulk_common.models import Device, DeviceChange, DeviceChangeLog
from devicebulk_devstack.testdata import make_iccid, make_imei, unique_id
from tests.e2e.conftest import admin, sim, write_devices_csv

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_auth_mode() -> str:
    return "jwt"  # as in production: bearer tokens, checked against the issuer's JWKS


ACCOUNT = "E2E-ACCOUNT"
CREDS = {
    "THINGSPACE_CLIENT_KEY": "e2e-key",
    "THINGSPACE_CLIENT_SECRET": "e2e-secret",
    "THINGSPACE_USERNAME": "e2e-api",
    "THINGSPACE_PASSWORD": "e2e-password",
}


def wait_processed(api: httpx.Client, bulk_id: str, headers: dict, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = api.get(f"/api/v1/bulk-changes/{bulk_id}", headers=headers).json()
        if view["Status"] in ("PROCESSED", "ERROR"):
            return view
        time.sleep(0.5)
    raise AssertionError(f"bulk change not processed in {timeout_s} s: {view}")


def wait_mail(stack, count: int, timeout_s: float = 60) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        files = sorted(stack.config.mail_dir.glob("*.eml"))
        if len(files) >= count:
            return files
        time.sleep(0.3)
    return sorted(stack.config.mail_dir.glob("*.eml"))


async def test_activation_of_200_devices_with_5_already_active_all_succeed(
    stack, tmp_path, e2e_sessionmaker
):
    sessionmaker = e2e_sessionmaker
    tenant_id, provider_id = unique_id(), unique_id()
    base = unique_id() * 1000
    iccids = [make_iccid(base + i) for i in range(200)]
    imeis = [make_imei((base + i) % 1_000_000) for i in range(200)]
    already_active = set(iccids[10:15])

    with sim(stack) as carrier:
        carrier.post(
            "/_sim/accounts",
            json={
                "accountName": ACCOUNT,
                "client_key": CREDS["THINGSPACE_CLIENT_KEY"],
                "client_secret": CREDS["THINGSPACE_CLIENT_SECRET"],
                "username": CREDS["THINGSPACE_USERNAME"],
                "password": CREDS["THINGSPACE_PASSWORD"],
            },
        ).raise_for_status()
        carrier.post(
            "/_sim/devices",
            json={
                "accountName": ACCOUNT,
                "devices": [
                    {
                        "iccid": i,
                        "imei": m,
                        "servicePlan": "M2M_4G",
                        "state": "active" if i in already_active else "preactive",
                        **({"mdn": f"55500{n:05d}"} if i in already_active else {}),
                    }
                    for n, (i, m) in enumerate(zip(iccids, imeis, strict=True))
                ],
            },
        ).raise_for_status()

    admin(
        stack,
        "create-tenant",
        "--id",
        str(tenant_id),
        "--name",
        "E2E tenant",
        "--notification-email",
        "ops@e2e.example",
    )
    admin(
        stack,
        "create-provider",
        "--id",
        str(provider_id),
        "--name",
        "E2E ThingSpace",
        "--account-name",
        ACCOUNT,
        "--base-url",
        f"{stack.config.sim_url}/api",
        env=CREDS,
    )
    # The plan the activation names, in the provider's catalogue.
    admin(
        stack,
        "create-carrier-rate-plan",
        "--provider",
        str(provider_id),
        "--code",
        "M2M_4G",
        "--name",
        "4G",
    )
    csv_path = write_devices_csv(
        tmp_path / "devices.csv",
        [
            {"iccid": i, "imei": m, "status": "preactive", "carrier_rate_plan": "M2M_4G"}
            for i, m in zip(iccids, imeis, strict=True)
        ],
    )
    admin(
        stack,
        "import-devices",
        "--tenant",
        str(tenant_id),
        "--provider",
        str(provider_id),
        str(csv_path),
    )
    admin(
        stack,
        "register-callback",
        "--provider",
        str(provider_id),
        "--url-base",
        stack.config.callbacks_url,
    )

    stack.start_services()
    token = stack.dev_token(tenant_id, email="operator@e2e.example")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.config.intake_url, timeout=30) as api:
        refused = api.get("/api/v1/bulk-changes", headers={"X-Tenant-Id": str(tenant_id)})
        assert refused.status_code == 401  # headers name no one in production mode
        answer = api.post(
            "/api/v1/bulk-changes",
            headers=headers,
            json={
                "OverrideValidation": False,
                "Devices": iccids,
                "ServiceProviderId": provider_id,
                "ChangeType": 3,
                "StatusUpdate": {
                    "TargetStatus": "Active",
                    "ThingSpaceStatusUpdate": {"ServicePlan": "M2M_4G", "ZipCode": "92127"},
                },
            },
        )
        assert answer.status_code == 202, answer.text
        bulk_id = answer.json()["BulkChangeId"]
        view = wait_processed(api, bulk_id, headers)
        failed = api.get(
            f"/api/v1/bulk-changes/{bulk_id}/devices?status=Failed", headers=headers
        ).json()

    assert view["Status"] == "PROCESSED"
    # The 5 the carrier says are already active are read back from its device list and
    # recorded: active is the state asked for, so they succeed too.
    assert view["Counts"] == {"Success": 200}
    assert failed["Items"] == []

    async with sessionmaker() as s:
        devices = (
            await s.scalars(select(Device).where(Device.service_provider_id == provider_id))
        ).all()
        audit_calls = await s.scalar(
            select(func.count())
            .select_from(DeviceChangeLog)
            .join(DeviceChange, DeviceChange.id == DeviceChangeLog.device_change_id)
            .where(
                DeviceChange.bulk_change_id == bulk_id, DeviceChangeLog.step == "carrier:activate"
            )
        )
        request_texts = (
            await s.scalars(
                select(DeviceChangeLog.request_text).where(
                    DeviceChangeLog.bulk_change_id == bulk_id,
                    DeviceChangeLog.step == "carrier:activate",
                    DeviceChangeLog.request_text.is_not(None),
                )
            )
        ).all()
    assert len(devices) == 200
    assert all(d.status == "active" and d.msisdn for d in devices)
    assert len({d.msisdn for d in devices}) == 200
    assert all(d.carrier_rate_plan == "M2M_4G" for d in devices)
    assert audit_calls == 200  # one audit row per device's carrier step
    # Gathered: the 200 devices went in a few multi-device requests (each audited once with
    # its request text), not 200.
    with sim(stack) as carrier:
        stats = carrier.get("/_sim/stats").json()
    activations = stats["by_endpoint"]["POST /api/m2m/v1/devices/actions/activate"]
    assert 1 <= activations <= 10
    assert len(request_texts) == activations
    assert all('"servicePlan"' in t and "e2e-password" not in t for t in request_texts)

    mails = wait_mail(stack, 1)
    time.sleep(1.0)  # a second email, if one were coming, would arrive by now
    mails = sorted(stack.config.mail_dir.glob("*.eml"))
    assert len(mails) == 1
    message = email.message_from_bytes(mails[0].read_bytes(), policy=policy.default)
    assert message["To"] == "operator@e2e.example"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "200" in text
    (attachment,) = list(message.iter_attachments())
    rows = list(
        csv.DictReader(
            io.StringIO(
                attachment.get_content()
                if isinstance(attachment.get_content(), str)
                else attachment.get_content().decode()
            )
        )
    )
    assert len(rows) == 200
    assert sum(r["status"] == "Success" for r in rows) == 200
