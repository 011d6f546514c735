"""rotate-callback-credentials against the real simulator, with the real callback receiver
served on a free port: no callback is refused during the switch, the old ones are refused
(and counted) once the grace period is over."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text, update
from structlog.testing import capture_logs

from devicebulk_admin.callback_rotation import rotate_callback_credentials
from devicebulk_callbacks.main import Servers, build
from devicebulk_callbacks.settings import CallbackSettings
from devicebulk_common import contracts as c
from devicebulk_common.carriers import CarrierError
from devicebulk_common.crypto import digest, encrypt_json
from devicebulk_common.models import CarrierCallback, ServiceProvider


@dataclass
class Receiver:
    url: str
    metrics_url: str


@pytest.fixture
async def receiver(database_url: str, credentials_key: str) -> AsyncIterator[Receiver]:
    built: Servers = build(
        CallbackSettings(
            database_url=database_url,
            callbacks_port=0,
            callbacks_internal_port=0,
            callbacks_provider_cache_s=0,
        )
    )
    built.listener.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(built.serve())
    for _ in range(250):
        if built.listener.started:
            break
        await asyncio.sleep(0.02)
    assert built.listener.started
    port = built.listener.servers[0].sockets[0].getsockname()[1]
    yield Receiver(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{built.internal.port}/metrics")
    built.listener.should_exit = True
    await task


@pytest.fixture
async def in_flight(factory, sim_account):
    """A provider bound to a simulator account, with an activation of four devices under way."""
    tenant = await factory.tenant()
    provider = await factory.provider(
        account_name=sim_account.name,
        base_url=sim_account.api_url,
        credentials=sim_account.credentials,
    )
    devices = await factory.devices(tenant, provider, 4)
    _, changes = await factory.bulk_change(
        tenant, provider, devices, status=c.DeviceChangeStatus.AWAITING_CALLBACK.value
    )
    return provider, changes


def _listener(sim_server, account_name: str) -> tuple[str, str, str]:
    """What the carrier holds: the URL, username and password it calls back with."""
    reg = sim_server.sim.state.accounts[account_name].callbacks["CarrierService"]
    return reg.url, reg.username, reg.password


def _callback(iccid: str, request_id: str, username: str, password: str) -> dict:
    return {
        "username": username,
        "password": password,
        "requestId": request_id,
        "deviceIds": [{"id": iccid, "kind": "Iccid"}],
        "status": "Success",
        "callbackCount": 1,
        "maxCallbackThreshold": 4,
    }


async def _refusals(http: httpx.AsyncClient, receiver: Receiver, provider_id: int) -> dict:
    body = (await http.get(receiver.metrics_url)).text
    found = re.findall(
        rf'callbacks_auth_failed_total\{{provider="{provider_id}",reason="(\w+)"\}} (\S+)', body
    )
    return {reason: float(value) for reason, value in found}


async def test_no_callback_is_refused_during_a_rotation_and_old_ones_are_after_the_grace(
    in_flight, receiver, sim_server, run_cli, sessionmaker, monkeypatch
) -> None:
    provider, changes = in_flight
    monkeypatch.setenv("CALLBACKS_PROVIDER_CACHE_S", "0")  # the receiver reloads at once
    registered = await run_cli(
        "register-callback", "--provider", str(provider.id), "--url-base", receiver.url
    )
    assert registered.code == 0, registered.err
    old_url, old_user, old_password = _listener(sim_server, provider.account_name)

    rotated = await run_cli(
        "rotate-callback-credentials", "--provider", str(provider.id), "--grace", "1h"
    )
    assert rotated.code == 0, rotated.err
    new_url, new_user, new_password = _listener(sim_server, provider.account_name)
    assert new_url.startswith(receiver.url + f"/callbacks/thingspace/{provider.id}/")
    assert (new_url, new_user, new_password) != (old_url, old_user, old_password)
    assert new_url != old_url and new_user != old_user and new_password != old_password
    assert "previous credentials are accepted for 1h" in rotated.out
    for secret in (new_password, old_password, new_url, old_url):
        assert secret not in rotated.out + rotated.err

    async with httpx.AsyncClient(timeout=10) as http:
        # During the grace: what the carrier queued before the switch, what it sends after it,
        # and a resend of an old callback to the new address are all taken.
        during = [
            (old_url, old_user, old_password),
            (new_url, new_user, new_password),
            (new_url, old_user, old_password),
        ]
        for n, (url, user, password) in enumerate(during):
            answer = await http.post(url, json=_callback(changes[n].iccid, f"r{n}", user, password))
            assert answer.status_code == 200, (n, answer.text)
        async with sessionmaker() as session:
            stored = await session.scalars(
                select(CarrierCallback.request_id).where(
                    CarrierCallback.service_provider_id == provider.id
                )
            )
            assert sorted(stored) == ["r0", "r1", "r2"]

        # The grace period ends.
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(ServiceProvider)
                .where(ServiceProvider.id == provider.id)
                .values(callback_previous_valid_until=text("now() - interval '1 second'"))
            )
        before = await _refusals(http, receiver, provider.id)
        with capture_logs() as logs:
            old_body_new_url = await http.post(
                new_url, json=_callback(changes[3].iccid, "r3", old_user, old_password)
            )
            old_url_old_body = await http.post(
                old_url, json=_callback(changes[3].iccid, "r4", old_user, old_password)
            )
            guessed = await http.post(
                new_url, json=_callback(changes[3].iccid, "r5", new_user, "a-guess")
            )
        assert old_body_new_url.status_code == 401
        assert old_url_old_body.status_code == 401
        assert "rotation" in old_url_old_body.json()["detail"]
        assert guessed.status_code == 401
        after = await _refusals(http, receiver, provider.id)
        assert after.get("expired", 0) - before.get("expired", 0) == 2
        assert after.get("credentials", 0) - before.get("credentials", 0) == 1

        refusals = [e for e in logs if e["event"] == "callback refused: credentials"]
        assert [e["reason"] for e in refusals] == ["expired", "expired", "credentials"]
        assert all(e["provider"] == provider.id for e in refusals)
        logged = repr(logs)
        for secret in (old_password, "a-guess", old_url.rsplit("/", 1)[1]):
            assert secret not in logged

        # The new credentials go on working.
        answer = await http.post(
            new_url, json=_callback(changes[3].iccid, "r6", new_user, new_password)
        )
        assert answer.status_code == 200, answer.text

        # A made-up provider id never becomes a label.
        await http.post(f"{receiver.url}/callbacks/thingspace/2147483000/x", json={})
        assert 'provider="2147483000"' not in (await http.get(receiver.metrics_url)).text


async def test_a_refused_registration_leaves_the_stored_credentials_as_they_were(
    factory, sim_account, sessionmaker, credentials_key
) -> None:
    provider = await factory.provider(
        account_name=sim_account.name,
        base_url=sim_account.api_url,
        credentials={**sim_account.credentials, "password": "wrong"},
        callback_username="old-user",
        callback_password_encrypted=encrypt_json(credentials_key, {"password": "old-pw"}),
        callback_path_secret_sha256=digest("old-secret"),
    )
    with pytest.raises(CarrierError):
        await rotate_callback_credentials(
            sessionmaker,
            provider_id=provider.id,
            credentials_key=credentials_key,
            grace=timedelta(hours=1),
            propagation_wait_s=0,
            url_base="http://127.0.0.1:8081",
        )
    async with sessionmaker() as session:
        stored = await session.get(ServiceProvider, provider.id)
    assert stored.callback_username == "old-user"
    assert stored.callback_path_secret_sha256 == digest("old-secret")
    assert stored.callback_previous_username is None
    assert stored.callback_previous_valid_until is None


async def test_a_second_rotation_within_the_grace_needs_force(
    in_flight, receiver, run_cli, monkeypatch
) -> None:
    provider, _ = in_flight
    monkeypatch.setenv("CALLBACKS_PROVIDER_CACHE_S", "0")
    pid = str(provider.id)
    assert (
        await run_cli("register-callback", "--provider", pid, "--url-base", receiver.url)
    ).code == 0
    assert (await run_cli("rotate-callback-credentials", "--provider", pid)).code == 0
    again = await run_cli("rotate-callback-credentials", "--provider", pid)
    assert again.code == 1 and "grace period runs until" in again.err and "--force" in again.err
    forced = await run_cli("rotate-callback-credentials", "--provider", pid, "--force")
    assert forced.code == 0, forced.err


async def test_a_rotation_that_stopped_before_the_carrier_took_it_is_resumed_safely(
    in_flight, receiver, sim_server, run_cli, sessionmaker, credentials_key, monkeypatch
) -> None:
    """The command was killed between storing new credentials and registering them: the carrier
    still calls with the old ones, so a new rotation keeps those for the grace (not the ones the
    carrier never saw), without --force."""
    provider, changes = in_flight
    monkeypatch.setenv("CALLBACKS_PROVIDER_CACHE_S", "0")
    pid = str(provider.id)
    assert (
        await run_cli("register-callback", "--provider", pid, "--url-base", receiver.url)
    ).code == 0
    carrier_url, carrier_user, carrier_password = _listener(sim_server, provider.account_name)
    async with sessionmaker() as session, session.begin():
        stored = await session.get(ServiceProvider, provider.id)
        await session.execute(
            update(ServiceProvider)
            .where(ServiceProvider.id == provider.id)
            .values(
                callback_username="never-registered",
                callback_password_encrypted=encrypt_json(credentials_key, {"password": "x"}),
                callback_path_secret_sha256=digest("never-registered"),
                callback_previous_username=stored.callback_username,
                callback_previous_password_encrypted=stored.callback_password_encrypted,
                callback_previous_path_secret_sha256=stored.callback_path_secret_sha256,
                callback_previous_valid_until=text("now() + interval '2 hours'"),
            )
        )

    resumed = await run_cli("rotate-callback-credentials", "--provider", pid, "--grace", "1h")
    assert resumed.code == 0, resumed.err
    async with sessionmaker() as session:
        after = await session.get(ServiceProvider, provider.id)
    assert after.callback_previous_username == carrier_user
    new_url, new_user, new_password = _listener(sim_server, provider.account_name)
    async with httpx.AsyncClient(timeout=10) as http:
        for n, (url, user, password) in enumerate(
            [(carrier_url, carrier_user, carrier_password), (new_url, new_user, new_password)]
        ):
            answer = await http.post(url, json=_callback(changes[n].iccid, f"s{n}", user, password))
            assert answer.status_code == 200, (n, answer.text)
