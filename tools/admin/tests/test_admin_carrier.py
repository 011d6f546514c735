"""sync-inventory, register-callback and seed-demo against the real simulator over HTTP."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import select

from devicebulk_admin.callbacks import register_callback
from devicebulk_admin.demo import ACCOUNT_NAME, demo_iccid, seed_demo
from devicebulk_admin.inventory import map_state, sync_inventory
from devicebulk_common.carriers import CarrierError
from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.crypto import decrypt_json, digest
from devicebulk_common.identifiers import iccid_problem, imei_problem, luhn_complete
from devicebulk_common.models import CarrierRatePlan, Device, ServiceProvider, Tenant


def iccid(n: int) -> str:
    return luhn_complete(f"891481{n:012d}")


@pytest.fixture
async def linked(factory, sim_account):
    """A tenant and a provider of ours bound to a fresh simulator account."""
    tenant = await factory.tenant()
    provider = await factory.provider(
        account_name=sim_account.name,
        base_url=sim_account.api_url,
        credentials=sim_account.credentials,
    )
    return tenant, provider, sim_account


async def ours(sessionmaker, provider_id: int) -> dict[str, Device]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(Device).where(Device.service_provider_id == provider_id)
        )
        return {device.iccid: device for device in rows}


@pytest.mark.parametrize(
    ("carrier", "ours_"),
    [
        ("preactive", DeviceStatus.PREACTIVE),
        ("active", DeviceStatus.ACTIVE),
        ("suspend", DeviceStatus.SUSPENDED),
        ("Suspended", DeviceStatus.SUSPENDED),
        ("deactive", DeviceStatus.DEACTIVATED),
        ("deactivated", DeviceStatus.DEACTIVATED),
        ("pending activation", DeviceStatus.PENDING_ACTIVATION),
        ("Pending Activation", DeviceStatus.PENDING_ACTIVATION),
        ("teleported", None),
    ],
)
def test_carrier_states_map_to_ours(carrier: str, ours_: DeviceStatus | None) -> None:
    assert map_state(carrier) == ours_


async def test_sync_updates_statuses_and_numbers_and_counts_unknown_devices(
    linked, factory, sessionmaker, run_cli
) -> None:
    tenant, provider, sim = linked
    mine = [iccid(n) for n in range(1, 5)]
    async with sessionmaker() as session, session.begin():
        session.add_all(
            Device(
                tenant_id=tenant.id, service_provider_id=provider.id, iccid=i, status="preactive"
            )
            for i in [*mine, iccid(99)]
        )
    await sim.seed_devices(
        [
            {"iccid": mine[0], "state": "preactive", "servicePlan": "M2M_4G"},
            {"iccid": mine[1], "state": "active", "servicePlan": "M2M_5G"},
            {"iccid": mine[2], "state": "suspend", "mdn": "5551230003"},
            {"iccid": mine[3], "state": "deactive"},
            {"iccid": iccid(50), "state": "active"},
        ]
    )
    run = await run_cli("sync-inventory", "--provider", str(provider.id), "--json")
    assert run.code == 0, run.err
    counts = json.loads(run.out)
    assert counts["seen"] == 5
    assert (counts["updated"], counts["unchanged"], counts["unknown"]) == (4, 0, 1)
    assert (counts["created"], counts["missing_at_carrier"]) == (0, 1)

    devices = await ours(sessionmaker, provider.id)
    carrier_active = await sim.device(mine[1])
    assert devices[mine[0]].status == "preactive"
    assert devices[mine[0]].carrier_rate_plan == "M2M_4G"
    assert devices[mine[1]].status == "active"
    assert devices[mine[1]].msisdn == carrier_active["msisdn"] is not None
    assert devices[mine[1]].mdn == carrier_active["mdn"]
    assert (devices[mine[2]].status, devices[mine[2]].msisdn) == ("suspended", "15551230003")
    assert devices[mine[3]].status == "deactivated"
    assert iccid(50) not in devices

    again = await sync_inventory(
        sessionmaker, provider_id=provider.id, credentials_key=factory.key, tenant_id=tenant.id
    )
    assert (again.updated, again.unchanged, again.created, again.unknown) == (0, 4, 1, 0)
    created = (await ours(sessionmaker, provider.id))[iccid(50)]
    assert (created.tenant_id, created.status) == (tenant.id, "active")


async def test_sync_pages_through_a_long_device_list(linked, sessionmaker, sim_server) -> None:
    tenant, provider, sim = linked
    await sim.seed_devices([{"iccid": iccid(n), "state": "active"} for n in range(200, 207)])
    sim_server.sim.config.page_size = 2
    try:
        result = await sync_inventory(
            sessionmaker, provider_id=provider.id, credentials_key=os.environ["CREDENTIALS_KEY"],
            tenant_id=tenant.id,
        )  # fmt: skip
    finally:
        sim_server.sim.config.page_size = 2000
    assert (result.seen, result.created) == (7, 7)


async def test_sync_with_refused_credentials_is_a_clear_error(
    factory, sim_account, run_cli
) -> None:
    provider = await factory.provider(
        account_name=sim_account.name,
        base_url=sim_account.api_url,
        credentials={**sim_account.credentials, "client_secret": "wrong"},
    )
    run = await run_cli("sync-inventory", "--provider", str(provider.id))
    assert run.code == 1
    assert "the carrier call failed" in run.err and "Traceback" not in run.err
    assert "wrong" not in run.err


async def test_register_callback_stores_credentials_the_carrier_echoes(
    linked, sessionmaker, sim_server, run_cli, credentials_key
) -> None:
    _, provider, sim = linked
    run = await run_cli(
        "register-callback", "--provider", str(provider.id), "--url-base", "http://127.0.0.1:8081/"
    )
    assert run.code == 0, run.err
    [registered] = (await sim.view())["callbacks"]
    assert registered["name"] == "CarrierService"
    prefix = f"http://127.0.0.1:8081/callbacks/thingspace/{provider.id}/"
    assert registered["url"].startswith(prefix)
    secret = registered["url"].removeprefix(prefix)
    assert len(secret) >= 32
    assert secret not in run.out and prefix + "********" in run.out

    async with sessionmaker() as session:
        stored = await session.get(ServiceProvider, provider.id)
    carrier_side = sim_server.sim.state.accounts[sim.name].callbacks["CarrierService"]
    assert stored.callback_path_secret_sha256 == digest(secret)
    assert stored.callback_username == carrier_side.username
    password = decrypt_json(credentials_key, stored.callback_password_encrypted)["password"]
    assert password == carrier_side.password
    assert password not in run.out + run.err
    assert password not in stored.callback_password_encrypted


async def test_failed_registration_keeps_the_stored_callback_credentials(
    factory, sim_account, sessionmaker, credentials_key
) -> None:
    provider = await factory.provider(
        account_name=sim_account.name,
        base_url=sim_account.api_url,
        credentials={**sim_account.credentials, "password": "wrong"},
        callback_username="old-user",
        callback_path_secret_sha256=digest("old-secret"),
    )
    with pytest.raises(CarrierError):
        await register_callback(
            sessionmaker,
            provider_id=provider.id,
            url_base="http://127.0.0.1:8081",
            credentials_key=credentials_key,
        )
    async with sessionmaker() as session:
        stored = await session.get(ServiceProvider, provider.id)
    assert stored.callback_username == "old-user"
    assert stored.callback_path_secret_sha256 == digest("old-secret")
    assert (await sim_account.view())["callbacks"] == []


async def test_seed_demo_seeds_database_and_simulator_and_repeats_as_a_no_op(
    new_id, sessionmaker, sim_server, credentials_key, tmp_path
) -> None:
    tenant_id, provider_id = new_id(), 9001
    iccids_file = tmp_path / "iccids.txt"

    async def seed():
        return await seed_demo(
            sessionmaker,
            tenant_id=tenant_id,
            provider_id=provider_id,
            devices=25,
            credentials_key=credentials_key,
            sim_url=sim_server.url,
            iccids_file=iccids_file,
        )

    first = await seed()
    assert (first.tenant_created, first.provider_created) == (True, True)
    assert (first.devices_inserted, first.sim_devices_added) == (25, 25)
    iccids = iccids_file.read_text().split()
    assert iccids == [demo_iccid(provider_id, n) for n in range(1, 26)]
    async with sessionmaker() as session:
        tenant = await session.get(Tenant, tenant_id)
        provider = await session.get(ServiceProvider, provider_id)
    assert (tenant.name, tenant.notification_email) == ("Demo tenant", "demo-ops@devicebulk.local")
    assert (provider.name, provider.account_name) == ("Demo ThingSpace", ACCOUNT_NAME)
    assert provider.base_url == f"{sim_server.url}/api"
    assert decrypt_json(credentials_key, provider.credentials_encrypted)["username"] == "demo-api"
    devices = await ours(sessionmaker, provider_id)
    assert sorted(devices) == sorted(iccids)
    for device in devices.values():
        assert iccid_problem(device.iccid) is None and imei_problem(device.imei) is None
        assert (device.status, device.carrier_rate_plan) == ("preactive", "M2M_4G")
    carrier = sim_server.sim.state.devices[iccids[0]]
    assert (carrier.account_name, carrier.state, carrier.service_plan) == (
        ACCOUNT_NAME, "preactive", "M2M_4G",
    )  # fmt: skip
    assert carrier.imei == devices[iccids[0]].imei
    # `make demo` and `make bench` activate the demo devices on their plan: it is catalogued.
    async with sessionmaker() as session:
        plans = (
            await session.execute(
                select(CarrierRatePlan.code, CarrierRatePlan.is_active).where(
                    CarrierRatePlan.service_provider_id == provider_id
                )
            )
        ).all()
    assert [tuple(p) for p in plans] == [("M2M_4G", True)]
    assert first.catalogue_created == 1

    carrier.state = "active"  # a later change at the carrier survives a second seeding
    second = await seed()
    assert (second.tenant_created, second.provider_created) == (False, False)
    assert (second.devices_inserted, second.sim_devices_added) == (0, 0)
    assert sim_server.sim.state.devices[iccids[0]].state == "active"

    synced = await sync_inventory(
        sessionmaker, provider_id=provider_id, credentials_key=credentials_key
    )
    assert (synced.seen, synced.updated, synced.unknown) == (25, 1, 0)
