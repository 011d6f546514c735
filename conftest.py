"""Fixtures every test package shares: a real PostgreSQL database and a real RabbitMQ vhost of
its own for each test session (each xdist worker), removed at the end; and data factories."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.crypto import encrypt_json
from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.db.migrate import upgrade
from devicebulk_common.models import Device, DeviceChange, ServiceProvider, Tenant
from devicebulk_devstack.testdata import add_bulk_change, make_iccid, make_imei, unique_id

PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_HOST = os.environ.get("TEST_PG_HOST", "postgres@127.0.0.1:5432")
AMQP_HOST = os.environ.get("TEST_AMQP_HOST", "guest:guest@127.0.0.1:5672")


def _run_id() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{worker}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def run_id() -> str:
    return _run_id()


@pytest.fixture(scope="session")
def credentials_key() -> str:
    key = Fernet.generate_key().decode()
    os.environ["CREDENTIALS_KEY"] = key
    return key


async def _database(name: str) -> AsyncIterator[str]:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://{PG_HOST}/{name}"
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def database_url(run_id: str) -> AsyncIterator[str]:
    """This test session's database, migrated once (shared by its tests)."""
    async for url in _database(f"devicebulk_test_{run_id}"):
        yield url


@pytest.fixture
async def private_database_url(run_id: str) -> AsyncIterator[str]:
    """A database for one test, for end-to-end tests whose relay publishes every pending row."""
    async for url in _database(f"devicebulk_test_{run_id}_{uuid.uuid4().hex[:6]}"):
        yield url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url, pool_size=5, application_name="tests")
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def _vhost(name: str) -> Iterator[str]:
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    yield f"amqp://{AMQP_HOST}/{name}"
    _rabbitmqctl("delete_vhost", name)


@pytest.fixture(scope="session")
def amqp_url(run_id: str) -> Iterator[str]:
    """This test session's vhost (shared by its tests)."""
    yield from _vhost(f"devicebulk_test_{run_id}")


@pytest.fixture
def private_amqp_url(run_id: str) -> Iterator[str]:
    """A vhost for one test, for tests that count every message in a queue."""
    yield from _vhost(f"devicebulk_test_{run_id}_{uuid.uuid4().hex[:6]}")


# ---- factories ----------------------------------------------------------------------------------


class Factory:
    """Plain async factories with keyword arguments, committing their rows."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], key: str) -> None:
        self.sessionmaker = sessionmaker
        self.key = key

    async def tenant(self, **kw: Any) -> Tenant:
        tenant = Tenant(id=kw.pop("id", unique_id()), name=kw.pop("name", "Acme IoT"), **kw)
        async with self.sessionmaker() as s, s.begin():
            s.add(tenant)
        return tenant

    async def provider(self, **kw: Any) -> ServiceProvider:
        creds = kw.pop(
            "credentials",
            {"client_key": "ck", "client_secret": "cs", "username": "api", "password": "pw"},
        )
        provider = ServiceProvider(
            id=kw.pop("id", unique_id()),
            name=kw.pop("name", "Verizon ThingSpace"),
            integration="thingspace",
            account_name=kw.pop("account_name", f"ACC-{uuid.uuid4().hex[:6]}"),
            base_url=kw.pop("base_url", "http://127.0.0.1:1/api"),
            write_enabled=kw.pop("write_enabled", True),
            credentials_encrypted=encrypt_json(self.key, creds),
            **kw,
        )
        async with self.sessionmaker() as s, s.begin():
            s.add(provider)
        return provider

    async def devices(
        self,
        tenant: Tenant,
        provider: ServiceProvider,
        count: int,
        *,
        start: int | None = None,
        status: DeviceStatus = DeviceStatus.PREACTIVE,
        **kw: Any,
    ) -> list[Device]:
        base = start if start is not None else unique_id() * 1000
        devices = [
            Device(
                tenant_id=tenant.id,
                service_provider_id=provider.id,
                iccid=make_iccid(base + i),
                status=status.value,
                **({"imei": make_imei((base + i) % 1_000_000)} | kw),
            )
            for i in range(count)
        ]
        async with self.sessionmaker() as s, s.begin():
            s.add_all(devices)
        return devices

    async def bulk_change(
        self,
        tenant: Tenant,
        provider: ServiceProvider,
        devices: list[Device],
        *,
        status: str,
        params: dict[str, Any] | None = None,
        **change: Any,
    ) -> tuple[uuid.UUID, list[DeviceChange]]:
        """A bulk change under way with one device change per device, each in ``status``
        (``change`` sets further device-change columns, e.g. ``carrier_request_id``)."""
        return await add_bulk_change(
            self.sessionmaker,
            tenant_id=tenant.id,
            service_provider_id=provider.id,
            devices=devices,
            status=status,
            params=params or {"op": "activate", "service_plan": "M2M_4G"},
            **change,
        )


@pytest.fixture
def factory(sessionmaker: async_sessionmaker[AsyncSession], credentials_key: str) -> Factory:
    return Factory(sessionmaker, credentials_key)
