"""A session the carrier forgot (answered INPUT_INVALID.SessionToken.Invalid) is dropped from
the shared token cache and replaced by ONE new login for every worker process; no device fails
for it."""

from __future__ import annotations

import asyncio

from change_helpers import changes_of
from worker_helpers import add_bulk_change

from devicebulk_common.carriers.shared_tokens import SharedTokenCache
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.handler import DeviceChangeHandler


async def _faults(carrier, **faults) -> None:
    r = await carrier.http.put(f"/_sim/accounts/{carrier.account}/faults", json=faults)
    r.raise_for_status()


async def _logins(carrier) -> int:
    return (await carrier.http.get("/_sim/stats")).json()["logins"]


async def test_a_forgotten_session_is_replaced_once_for_two_processes_and_no_device_fails(
    sessionmaker, engine, credentials_key, factory, world, carrier
):
    devices = [*world.devices, *await factory.devices(world.tenant, world.provider, 1)]
    await carrier.seed(
        [
            {"iccid": d.iccid, "imei": d.imei, "state": "active", "servicePlan": "M2M_4G"}
            for d in devices
        ]
    )
    messages = await add_bulk_change(sessionmaker, world, "suspend", devices=devices)
    # A session outlives the first two calls even on a loaded machine, then is forgotten.
    await _faults(carrier, session_ttl_s=3.0, forget_sessions=True, callback_delay_s=30)
    pools = [  # two worker processes: their own in-process copies, one PostgreSQL cache
        AdapterPool(
            credentials_key=credentials_key,
            timeout_s=5.0,
            token_cache=SharedTokenCache(engine, credentials_key=credentials_key),
        )
        for _ in range(2)
    ]
    first, second = (DeviceChangeHandler(sessionmaker, pool) for pool in pools)
    logins = await _logins(carrier)
    try:
        await first(messages[0])
        await second(messages[1])  # the session the first process logged in with
        assert await _logins(carrier) == logins + 1
        await asyncio.sleep(3.5)  # idle past the session's life: the carrier forgets it
        await first(messages[2])
        await second(messages[3])
    finally:
        for pool in pools:
            await pool.aclose()
    changes = await changes_of(sessionmaker, messages)
    assert [dc.status for dc in changes] == ["AwaitingCallback"] * 4
    assert await _logins(carrier) == logins + 2  # one new login for both processes


async def test_a_session_the_carrier_keeps_refusing_ends_the_device_failed_after_bounded_rounds(
    handler, world, carrier, sessionmaker
):
    (message,) = await add_bulk_change(sessionmaker, world, "suspend", devices=world.devices[:1])
    # Every session is over before its first use: each round is one fresh login and one retry,
    # both refused.
    await _faults(carrier, session_ttl_s=0.000001, forget_sessions=True)
    logins = await _logins(carrier)

    for _ in range(6):  # the retries the delay queue would deliver
        await handler(message)
        (change,) = await changes_of(sessionmaker, [message])
        if change.status == "Failed":
            break

    assert change.status == "Failed"
    assert change.error_code.endswith("SessionToken.Invalid")
    assert "again after a fresh login, in 3 rounds; gave up" in change.error_message
    assert change.attempts <= 1  # rounds of authentication trouble spend no attempt
    assert await _logins(carrier) - logins <= 2 * 3
