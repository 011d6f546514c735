"""create-provider --integration jasper: the credentials come from the environment, are stored
encrypted, and the stored provider drives the Control Center adapter against jasper-sim."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from devicebulk_common.carriers import DeviceRef, InProcessTokenCache
from devicebulk_common.carriers.jasper import build_jasper_adapter
from devicebulk_common.crypto import decrypt_json
from devicebulk_common.models import Device, ServiceProvider
from jasper_sim import SimConfig, create_app
from jasper_sim.serving import serve

USERNAME, API_KEY = "cc-api-user", "d7c3f1aa-0b2e-4c55-jasper-key"
ICCID = "8901000000000000077"


def _set_env(monkeypatch, **values: str) -> None:
    for name in ("JASPER_USERNAME", "JASPER_API_KEY", "JASPER_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


async def test_create_jasper_provider_stores_the_key_encrypted_and_it_works(
    new_id, run_cli, sessionmaker, credentials_key, monkeypatch
) -> None:
    app = create_app(SimConfig())
    async with serve(app) as root, httpx.AsyncClient(base_url=root) as admin:
        account = {"accountId": "100020620", "users": [{"userName": USERNAME, "apiKey": API_KEY}]}
        (await admin.post("/_sim/accounts", json=account)).raise_for_status()
        devices = {"accountId": "100020620", "devices": [{"iccid": ICCID, "status": "ACTIVATED"}]}
        (await admin.post("/_sim/devices", json=devices)).raise_for_status()
        _set_env(monkeypatch, JASPER_USERNAME=USERNAME, JASPER_API_KEY=API_KEY)
        provider_id = new_id()

        run = await run_cli(
            "create-provider", "--integration", "jasper", "--id", str(provider_id),
            "--name", "POD19", "--account-name", "100020620", "--base-url", f"{root}/rws/api/v1/",
            "--rate-limit-per-minute", "300",
        )  # fmt: skip

        assert run.code == 0, run.err
        assert "jasper account 100020620" in run.out
        assert API_KEY not in run.out + run.err
        async with sessionmaker() as session:
            provider = await session.get(ServiceProvider, provider_id)
        assert provider is not None
        assert (provider.integration, provider.base_url) == ("jasper", f"{root}/rws/api/v1")
        assert API_KEY not in provider.credentials_encrypted
        assert decrypt_json(credentials_key, provider.credentials_encrypted) == {
            "username": USERNAME,
            "api_key": API_KEY,
        }
        async with httpx.AsyncClient() as http:
            adapter = build_jasper_adapter(
                provider,
                http=http,
                credentials_key=credentials_key,
                refusal_cache=InProcessTokenCache(),
            )
            device = await adapter.get_device(DeviceRef(iccid=ICCID))
        assert device.state == "ACTIVATED"


async def test_missing_key_or_a_console_url_is_a_clear_error(new_id, run_cli, monkeypatch) -> None:
    _set_env(monkeypatch, JASPER_USERNAME=USERNAME)
    args = ["create-provider", "--integration", "jasper", "--name", "POD19", "--account-name", "1"]

    no_key = await run_cli(*args, "--id", str(new_id()), "--base-url", "https://h/rws/api/v1")
    _set_env(monkeypatch, JASPER_USERNAME=USERNAME, JASPER_API_KEY=API_KEY)
    console = await run_cli(*args, "--id", str(new_id()), "--base-url", "https://rogers.jasper.com")
    no_url = await run_cli(*args, "--id", str(new_id()))

    assert no_key.code == 1 and "lack JASPER_API_KEY" in no_key.err
    assert console.code == 1 and "ending in /rws/api/v1" in console.err
    assert no_url.code == 1 and "JASPER_BASE_URL" in no_url.err
    assert "Traceback" not in no_key.err + console.err + no_url.err


async def test_sync_inventory_of_a_jasper_provider_reads_search_devices(
    new_id, run_cli, factory, sessionmaker, monkeypatch
) -> None:
    app = create_app(SimConfig())
    async with serve(app) as root, httpx.AsyncClient(base_url=root) as admin:
        account = {
            "accountId": "100020620",
            "ratePlans": ["M2M 1GB"],
            "users": [{"userName": USERNAME, "apiKey": API_KEY}],
        }
        (await admin.post("/_sim/accounts", json=account)).raise_for_status()
        sims = [
            {"iccid": "8901000000000000081", "status": "ACTIVATED", "ratePlan": "M2M 1GB"},
            {"iccid": "8901000000000000082", "status": "TEST_READY"},
            {"iccid": "8901000000000000083", "status": "REPLACED"},
        ]
        body = {"accountId": "100020620", "devices": sims}
        (await admin.post("/_sim/devices", json=body)).raise_for_status()
        _set_env(monkeypatch, JASPER_USERNAME=USERNAME, JASPER_API_KEY=API_KEY)
        tenant = await factory.tenant()
        provider_id = new_id()
        created = await run_cli(
            "create-provider", "--integration", "jasper", "--id", str(provider_id),
            "--name", "POD19", "--account-name", "100020620", "--base-url", f"{root}/rws/api/v1",
        )  # fmt: skip
        assert created.code == 0, created.err

        run = await run_cli(
            "sync-inventory", "--provider", str(provider_id), "--tenant", str(tenant.id)
        )

        assert run.code == 0, run.err
        assert "listed 3 devices" in run.out and "created 3" in run.out
        async with sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Device.iccid, Device.status, Device.carrier_rate_plan)
                    .where(Device.service_provider_id == provider_id)
                    .order_by(Device.iccid)
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("8901000000000000081", "active", "M2M 1GB"),
            ("8901000000000000082", "preactive", None),
            ("8901000000000000083", "deactivated", None),
        ]
