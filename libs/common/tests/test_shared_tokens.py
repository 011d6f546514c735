"""One OAuth token and one M2M session per carrier account across processes: several caches
(each with its own engine, as separate worker processes have) against one simulator account."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sim_account import sim_account
from sqlalchemy import text

from devicebulk_common.carriers import DeviceRef, ThingSpaceAdapter
from devicebulk_common.carriers.shared_tokens import SharedTokenCache
from devicebulk_common.db.engine import create_engine


@pytest.fixture
async def account():
    async with sim_account(10) as account:
        yield account


async def _process(database_url, credentials_key, url, name, creds):
    """What one worker process holds: its own engine, cache, HTTP client and adapter."""
    engine = create_engine(database_url, pool_size=3)
    http = httpx.AsyncClient(timeout=10)
    adapter = ThingSpaceAdapter(
        http,
        base_url=f"{url}/api",
        account_name=name,
        token_cache=SharedTokenCache(engine, credentials_key=credentials_key),
        **creds,
    )
    return engine, http, adapter


async def test_workers_share_one_token_and_one_session(database_url, credentials_key, account):
    url, name, creds, devices, admin = account
    processes = [await _process(database_url, credentials_key, url, name, creds) for _ in range(3)]
    try:
        await asyncio.gather(
            *(adapter.suspend([DeviceRef(iccid=d)]) for _, _, adapter in processes for d in devices)
        )
        # a process that starts later finds the tokens in the table
        late = await _process(database_url, credentials_key, url, name, creds)
        processes.append(late)
        await late[2].restore([DeviceRef(iccid=devices[0])])
    finally:
        for engine, http, _ in processes:
            await http.aclose()
            await engine.dispose()
    stats = (await admin.get("/_sim/stats")).json()
    assert stats["token_fetches"] == 1
    assert stats["logins"] == 1
    assert stats["by_endpoint"]["POST /api/m2m/v1/devices/actions/suspend"] == 30


async def test_an_expired_session_is_renewed_once_for_everyone(
    database_url, credentials_key, account, engine
):
    url, name, creds, devices, admin = account
    processes = [await _process(database_url, credentials_key, url, name, creds) for _ in range(2)]
    try:
        for _, _, adapter in processes:
            await adapter.suspend([DeviceRef(iccid=devices[0])])
        (
            await admin.post(f"/_sim/accounts/{name}/expire", params={"tokens": "false"})
        ).raise_for_status()
        await asyncio.gather(
            *(adapter.restore([DeviceRef(iccid=devices[1])]) for _, _, adapter in processes)
        )
    finally:
        for eng, http, _ in processes:
            await http.aclose()
            await eng.dispose()
    stats = (await admin.get("/_sim/stats")).json()
    assert stats["logins"] == 2 and stats["token_fetches"] == 1
    async with engine.connect() as conn:
        stored = (
            (await conn.execute(text("SELECT value_encrypted FROM carrier_token"))).scalars().all()
        )
    assert stored and all(v.startswith("gAAAAA") for v in stored)  # encrypted (Fernet), not raw
