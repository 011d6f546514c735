"""create-tenant, create-provider and new-credentials-key, against the real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from devicebulk_admin.errors import AdminError
from devicebulk_admin.providers import ProviderSpec, create_provider, read_credentials
from devicebulk_admin.tenants import create_tenant
from devicebulk_common.crypto import decrypt_json
from devicebulk_common.models import ServiceProvider, Tenant

CREDS = {
    "client_key": "ck-Zq81",
    "client_secret": "cs-very-secret-77",
    "username": "api-user-x",
    "password": "hunter2-password",
}
ENV = {f"THINGSPACE_{k.upper()}": v for k, v in CREDS.items()}


async def test_new_credentials_key_prints_a_fernet_key(run_cli) -> None:
    run = await run_cli("new-credentials-key", database=False)
    assert run.code == 0
    Fernet(run.out.strip().encode())


async def test_create_tenant_stores_it(new_id, sessionmaker, run_cli) -> None:
    tenant_id = new_id()
    run = await run_cli(
        "create-tenant", "--id", str(tenant_id), "--name", "Acme", "--notification-email",
        "ops@acme.example",
    )  # fmt: skip
    assert run.code == 0, run.err
    assert f"created tenant {tenant_id}" in run.out
    async with sessionmaker() as session:
        tenant = await session.get(Tenant, tenant_id)
    assert (tenant.name, tenant.notification_email) == ("Acme", "ops@acme.example")


async def test_duplicate_tenant_id_is_a_clear_error(factory, run_cli) -> None:
    tenant = await factory.tenant(name="First")
    run = await run_cli("create-tenant", "--id", str(tenant.id), "--name", "Second")
    assert run.code == 1
    assert f"tenant {tenant.id} already exists" in run.err
    assert "Traceback" not in run.err


async def test_existing_tenant_with_if_not_exists_changes_nothing(factory, sessionmaker) -> None:
    tenant = await factory.tenant(name="First")
    result = await create_tenant(
        sessionmaker, tenant_id=tenant.id, name="Other", if_not_exists=True
    )
    assert not result.created
    assert result.name == "First"


async def test_bad_email_is_refused(new_id, sessionmaker) -> None:
    with pytest.raises(AdminError, match="not an email"):
        await create_tenant(sessionmaker, tenant_id=new_id(), name="X", notification_email="x")


async def test_create_provider_encrypts_credentials_from_the_environment(
    new_id, run_cli, sessionmaker, credentials_key, monkeypatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    provider_id = new_id()
    run = await run_cli(
        "create-provider", "--id", str(provider_id), "--name", "Acme ThingSpace",
        "--account-name", "0000123456-00001", "--base-url", "http://ts.example/api",
        "--writes-disabled", "--rate-limit-per-minute", "120", "--json",
    )  # fmt: skip
    assert run.code == 0, run.err
    shown = json.loads(run.out)
    assert shown["id"] == provider_id and shown["write_enabled"] is False
    for secret in CREDS.values():
        assert secret not in run.out + run.err
    async with sessionmaker() as session:
        provider = await session.get(ServiceProvider, provider_id)
        row = (await session.execute(select(ServiceProvider.__table__).where(
            ServiceProvider.id == provider_id))).one()  # fmt: skip
    assert decrypt_json(credentials_key, provider.credentials_encrypted) == CREDS
    assert (provider.account_name, provider.base_url) == (
        "0000123456-00001",
        "http://ts.example/api",
    )
    assert provider.rate_limit_per_minute == 120 and provider.write_enabled is False
    stored = " ".join(str(value) for value in row)
    for secret in CREDS.values():
        assert secret not in stored


async def test_create_provider_reads_a_credentials_file(
    new_id, run_cli, sessionmaker, credentials_key, tmp_path: Path
) -> None:
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(CREDS))
    provider_id = new_id()
    run = await run_cli(
        "create-provider", "--id", str(provider_id), "--name", "P", "--account-name", "A-1",
        "--credentials-file", str(path),
    )  # fmt: skip
    assert run.code == 0, run.err
    async with sessionmaker() as session:
        provider = await session.get(ServiceProvider, provider_id)
    assert decrypt_json(credentials_key, provider.credentials_encrypted) == CREDS
    assert provider.write_enabled is True
    assert provider.base_url == "http://127.0.0.1:8090/api"


async def test_create_provider_without_credentials_names_the_sources(
    new_id, run_cli, sessionmaker, monkeypatch
) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    provider_id = new_id()
    run = await run_cli(
        "create-provider", "--id", str(provider_id), "--name", "P", "--account-name", "A-1"
    )
    assert run.code == 1
    assert "THINGSPACE_CLIENT_KEY" in run.err and "--credentials-file" in run.err
    async with sessionmaker() as session:
        assert await session.get(ServiceProvider, provider_id) is None


def test_partial_environment_credentials_name_what_is_missing() -> None:
    env = {"THINGSPACE_CLIENT_KEY": "k", "THINGSPACE_USERNAME": "u"}
    with pytest.raises(AdminError, match="THINGSPACE_CLIENT_SECRET, THINGSPACE_PASSWORD"):
        read_credentials(None, env=env, interactive=False)


def test_credentials_are_prompted_for_on_a_terminal() -> None:
    answers = iter(CREDS.values())
    got = read_credentials(None, env={}, interactive=True, prompt=lambda _: next(answers))
    assert got == CREDS


async def test_missing_credentials_key_is_a_clear_error(
    new_id, run_cli, monkeypatch, tmp_path
) -> None:
    monkeypatch.delenv("CREDENTIALS_KEY")
    monkeypatch.chdir(tmp_path)  # away from a developer's .env, which `make run` writes
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    run = await run_cli(
        "create-provider", "--id", str(new_id()), "--name", "P", "--account-name", "A-1"
    )
    assert run.code == 1
    assert "CREDENTIALS_KEY is not set" in run.err and "new-credentials-key" in run.err


async def test_duplicate_provider_id_is_a_clear_error(
    factory, sessionmaker, credentials_key
) -> None:
    provider = await factory.provider()
    spec = ProviderSpec(id=provider.id, name="Again", account_name="X", base_url="http://x/api")

    def never() -> dict[str, str]:
        raise AssertionError("credentials must not be read for an existing provider")

    with pytest.raises(AdminError, match=f"provider {provider.id} already exists"):
        await create_provider(
            sessionmaker, spec, credentials=never, credentials_key=credentials_key
        )
    result = await create_provider(
        sessionmaker, spec, credentials=never, credentials_key=credentials_key, if_not_exists=True
    )
    assert not result.created and result.name == provider.name
