"""rotate-credentials-key on a database of its own (it rewrites every stored secret): what was
written under the old key is read afterwards with the new key alone, and no longer with the old."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from devicebulk_admin.cli import main
from devicebulk_callbacks.providers import CredentialStore
from devicebulk_common.carriers import InProcessTokenCache
from devicebulk_common.carriers.shared_tokens import SharedTokenCache
from devicebulk_common.crypto import CredentialsKeyError, decrypt_json, digest, encrypt_json
from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.models import CarrierToken, ServiceProvider
from devicebulk_common.providers import build_adapter

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
CREDS = {"client_key": "ck-1", "client_secret": "cs-1", "username": "api-1", "password": "pw-1"}


@pytest.fixture
async def db(private_database_url: str) -> AsyncIterator[tuple[str, object, object]]:
    engine = create_engine(private_database_url, pool_size=2, application_name="tests")
    yield private_database_url, engine, create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def cli(capsys, monkeypatch):
    async def run(url: str, key: str, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("CREDENTIALS_KEY", key)
        capsys.readouterr()
        code = await asyncio.to_thread(main, [*args, "--database-url", url])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


async def _seed_under_old_key(sessionmaker, engine) -> None:
    async with sessionmaker() as s, s.begin():
        s.add(
            ServiceProvider(
                id=4,
                name="P",
                integration="thingspace",
                account_name="ACC-4",
                base_url="http://127.0.0.1:1/api",
                credentials_encrypted=encrypt_json(OLD, CREDS),
                callback_username="cb-user",
                callback_password_encrypted=encrypt_json(OLD, {"password": "cb-pw"}),
                callback_path_secret_sha256=digest("cb-path"),
                callback_previous_username="cb-old",
                callback_previous_password_encrypted=encrypt_json(OLD, {"password": "cb-old-pw"}),
                callback_previous_path_secret_sha256=digest("cb-old-path"),
                callback_previous_valid_until=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    await SharedTokenCache(engine, credentials_key=OLD).set("thingspace:x:ACC-4:oauth", "tok", 1e12)


async def test_after_rotation_the_new_key_alone_reads_everything_and_the_old_one_nothing(
    db, cli
) -> None:
    url, engine, sessionmaker = db
    await _seed_under_old_key(sessionmaker, engine)

    code, out, err = await cli(url, f"{NEW},{OLD}", "rotate-credentials-key", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "keys_in_use": 2,
        "provider_credentials": 1,
        "callback_passwords": 2,
        "cached_tokens": 1,
    }

    async with sessionmaker() as s:
        provider = await s.get(ServiceProvider, 4)
        token = await s.scalar(select(CarrierToken.value_encrypted))
    # The readers of the services, with the new key alone:
    async with httpx.AsyncClient() as http:
        adapter = build_adapter(
            provider, http=http, credentials_key=NEW, token_cache=InProcessTokenCache()
        )
        await adapter.aclose()
    store = CredentialStore(sessionmaker, key=NEW, ttl_s=0)
    listener = await store.get(4)
    assert listener is not None and listener.current.password == "cb-pw"
    assert listener.previous is not None and listener.previous.password == "cb-old-pw"
    cached = await SharedTokenCache(engine, credentials_key=NEW).get("thingspace:x:ACC-4:oauth")
    assert cached is not None and cached.value == "tok"
    assert decrypt_json(NEW, provider.credentials_encrypted) == CREDS

    # ... and nothing reads with the old key alone any more.
    for stored in (
        provider.credentials_encrypted,
        provider.callback_password_encrypted,
        provider.callback_previous_password_encrypted,
        token,
    ):
        with pytest.raises(CredentialsKeyError):
            decrypt_json(OLD, stored)
    with pytest.raises(CredentialsKeyError):
        await CredentialStore(sessionmaker, key=OLD, ttl_s=0).get(4)


async def test_a_secret_no_key_decrypts_stops_the_rotation_and_changes_nothing(db, cli) -> None:
    url, engine, sessionmaker = db
    await _seed_under_old_key(sessionmaker, engine)
    stranger = Fernet.generate_key().decode()
    async with sessionmaker() as s, s.begin():
        s.add(
            ServiceProvider(
                id=5,
                name="Q",
                integration="thingspace",
                account_name="ACC-5",
                base_url="http://127.0.0.1:1/api",
                credentials_encrypted=encrypt_json(stranger, CREDS),
            )
        )
    async with sessionmaker() as s:
        before = (await s.get(ServiceProvider, 4)).credentials_encrypted

    code, _, err = await cli(url, f"{NEW},{OLD}", "rotate-credentials-key")
    assert code == 1
    assert "provider 5" in err and "nothing was changed" in err
    async with sessionmaker() as s:
        assert (await s.get(ServiceProvider, 4)).credentials_encrypted == before
    assert decrypt_json(OLD, before) == CREDS
