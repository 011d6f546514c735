"""The worker's handler against the real database and the simulator over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from change_helpers import CallbackSink
from starlette.applications import Starlette
from starlette.routing import Route
from worker_helpers import credentials

from devicebulk_common.models import Device, ServiceProvider, Tenant
from devicebulk_worker.carriers import AdapterPool
from devicebulk_worker.handler import DeviceChangeHandler
from thingspace_sim import SimConfig, create_app
from thingspace_sim.serving import serve


@dataclass
class Carrier:
    url: str
    http: httpx.AsyncClient
    account: str

    async def seed(self, devices: list[dict]) -> None:
        r = await self.http.post(
            "/_sim/devices", json={"accountName": self.account, "devices": devices}
        )
        r.raise_for_status()

    async def calls(self, endpoint: str) -> int:
        stats = (await self.http.get("/_sim/stats")).json()
        return stats["by_endpoint"].get(endpoint, 0)


@pytest.fixture(scope="session")
async def sim_url() -> AsyncIterator[str]:
    async with serve(create_app(SimConfig(callback_delay=0.01))) as url:
        yield url


@pytest.fixture
async def carrier(sim_url) -> AsyncIterator[Carrier]:
    account = f"W-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=sim_url) as http:
        r = await http.post("/_sim/accounts", json={"accountName": account, **credentials(account)})
        r.raise_for_status()
        yield Carrier(sim_url, http, account)


@dataclass
class World:
    tenant: Tenant
    provider: ServiceProvider
    devices: list[Device]


@pytest.fixture
async def world(factory, carrier) -> World:
    tenant = await factory.tenant()
    provider = await factory.provider(
        account_name=carrier.account,
        base_url=f"{carrier.url}/api",
        credentials=credentials(carrier.account),
    )
    devices = await factory.devices(tenant, provider, 3, carrier_rate_plan="M2M_4G")
    await carrier.seed(
        [
            {"iccid": d.iccid, "imei": d.imei, "state": "preactive", "servicePlan": "M2M_4G"}
            for d in devices
        ]
    )
    return World(tenant, provider, devices)


@pytest.fixture
async def handler(sessionmaker, credentials_key) -> AsyncIterator[DeviceChangeHandler]:
    adapters = AdapterPool(credentials_key=credentials_key, timeout_s=5.0)
    yield DeviceChangeHandler(sessionmaker, adapters)
    await adapters.aclose()


@pytest.fixture(scope="session")
async def callback_sink(sessionmaker) -> AsyncIterator[CallbackSink]:
    """Stores and reconciles what the simulator sends back, as the callback-receiver does."""
    sink = CallbackSink(sessionmaker)
    app = Starlette(routes=[Route("/cb/{provider}", sink.endpoint, methods=["POST"])])
    async with serve(app) as url:
        sink.url = url
        yield sink


@pytest.fixture
async def listening(world, carrier, callback_sink) -> CallbackSink:
    """The world's simulator account sends its callbacks to the sink."""
    account = {
        "accountName": carrier.account,
        **credentials(carrier.account),
        "callback": {"url": f"{callback_sink.url}/cb/{world.provider.id}"},
    }
    (await carrier.http.post("/_sim/accounts", json=account)).raise_for_status()
    return callback_sink
