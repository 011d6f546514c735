"""update-provider changes what the worker reads; list-providers shows no secret."""

from __future__ import annotations

import json

from sqlalchemy import select

from devicebulk_common.carriers.shared_tokens import SharedTokenCache
from devicebulk_common.carriers.thingspace import token_key_prefix
from devicebulk_common.crypto import digest, encrypt_json
from devicebulk_common.models import CarrierToken, ServiceProvider
from devicebulk_worker.carriers import AdapterPool


async def _token_keys(sessionmaker) -> set[str]:
    async with sessionmaker() as session:
        return set(await session.scalars(select(CarrierToken.key)))


async def test_update_provider_changes_what_the_worker_reads(
    factory, sim_account, sessionmaker, engine, run_cli, credentials_key, tmp_path
) -> None:
    # A provider set up wrongly: a dead base URL, refused credentials, no rate limit.
    provider = await factory.provider(
        account_name=sim_account.name,
        base_url="http://127.0.0.1:1/api",
        credentials={**sim_account.credentials, "client_secret": "stale"},
    )
    other = await factory.provider()
    cache = SharedTokenCache(engine, credentials_key=credentials_key)
    mine = token_key_prefix(provider.base_url, provider.account_name)
    theirs = token_key_prefix(other.base_url, other.account_name)
    for key in (f"{mine}:oauth", f"{mine}:session", f"{theirs}:oauth"):
        await cache.set(key, "tok", 1e12)
    creds_file = tmp_path / "creds.json"
    creds_file.write_text(json.dumps(sim_account.credentials))

    run = await run_cli(
        "update-provider",
        "--id", str(provider.id),
        "--writes-disabled",
        "--rate-limit-per-minute", "120",
        "--base-url", sim_account.api_url + "/",
        "--credentials-file", str(creds_file),
    )  # fmt: skip
    assert run.code == 0, run.err
    assert "write_enabled" in run.out and "rate_limit_per_minute" in run.out
    assert "credentials" in run.out and "2 cached carrier token(s) dropped" in run.out
    for secret in sim_account.credentials.values():
        assert secret not in run.out + run.err
    keys = await _token_keys(sessionmaker)
    assert f"{theirs}:oauth" in keys and not any(k.startswith(mine) for k in keys)

    # What a worker loads now: the new values, and an adapter that reaches the carrier.
    async with sessionmaker() as session:
        loaded = await session.get(ServiceProvider, provider.id)
    assert (loaded.write_enabled, loaded.rate_limit_per_minute) == (False, 120)
    assert loaded.base_url == sim_account.api_url
    pool = AdapterPool(credentials_key=credentials_key, timeout_s=5.0)
    try:
        assert await pool.adapter(loaded).list_callbacks() == []
    finally:
        await pool.aclose()

    again = await run_cli("update-provider", "--id", str(provider.id), "--writes-enabled")
    assert again.code == 0, again.err
    async with sessionmaker() as session:
        assert (await session.get(ServiceProvider, provider.id)).write_enabled is True


async def test_update_provider_takes_credentials_from_the_environment_only_when_asked(
    factory, run_cli, monkeypatch
) -> None:
    provider = await factory.provider()
    for name in ("CLIENT_KEY", "CLIENT_SECRET", "USERNAME", "PASSWORD"):
        monkeypatch.delenv(f"THINGSPACE_{name}", raising=False)
    missing = await run_cli("update-provider", "--id", str(provider.id), "--credentials-from-env")
    assert missing.code == 1 and "THINGSPACE_CLIENT_KEY" in missing.err
    nothing = await run_cli("update-provider", "--id", str(provider.id))
    assert nothing.code == 1 and "nothing to change" in nothing.err


async def test_list_providers_shows_no_secret(factory, run_cli, credentials_key) -> None:
    secrets = {
        "client_key": "ck-9f2a7e",
        "client_secret": "cs-1b8d4c",
        "username": "api-user-77e1",
        "password": "pw-c03e51",
    }
    provider = await factory.provider(
        name="Listed ThingSpace",
        credentials=secrets,
        rate_limit_per_minute=600,
        callback_username="cb-user-5d0e",
        callback_password_encrypted=encrypt_json(credentials_key, {"password": "cb-pw-a1f9"}),
        callback_path_secret_sha256=digest("cb-path-4b7c"),
    )
    text_run = await run_cli("list-providers")
    json_run = await run_cli("list-providers", "--json")
    assert text_run.code == json_run.code == 0, text_run.err + json_run.err
    assert "Listed ThingSpace" in text_run.out and "600/min" in text_run.out
    [row] = [p for p in json.loads(json_run.out)["providers"] if p["id"] == provider.id]
    assert row["callback_registered"] is True and row["rate_limit_per_minute"] == 600
    shown = text_run.out + json_run.out + text_run.err + json_run.err
    for secret in [
        *secrets.values(),
        "cb-user-5d0e",
        "cb-pw-a1f9",
        digest("cb-path-4b7c"),
        provider.credentials_encrypted,
    ]:
        assert secret not in shown
