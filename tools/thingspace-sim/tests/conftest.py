"""The simulator and a callback listener, each a real uvicorn server on a free local port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sim_helpers import (
    ACCOUNT,
    CB_PASS,
    CB_USER,
    CLIENT_KEY,
    CLIENT_SECRET,
    PASSWORD,
    TEST_CONFIG,
    TS,
    USERNAME,
    Listener,
)
from starlette.applications import Starlette
from starlette.routing import Route

from thingspace_sim import SimConfig, create_app
from thingspace_sim.config import FaultConfig
from thingspace_sim.context import Sim
from thingspace_sim.serving import serve


@pytest.fixture(scope="session")
async def listener() -> AsyncIterator[Listener]:
    listener = Listener()
    app = Starlette(routes=[Route("/cb/{secret}", listener.endpoint, methods=["POST"])])
    async with serve(app) as url:
        listener.url = f"{url}/cb/s3cret"
        yield listener


@pytest.fixture(scope="session")
async def sim_server() -> AsyncIterator[tuple[Sim, str]]:
    app = create_app(SimConfig(**TEST_CONFIG, random_seed=7))
    async with serve(app) as url:
        yield app.state.sim, url


@pytest.fixture
async def ts(sim_server: tuple[Sim, str], listener: Listener) -> AsyncIterator[TS]:
    """A clean simulator with one account whose CarrierService listener is registered."""
    sim, root = sim_server
    await sim.dispatcher.cancel_pending()
    sim.state.clear()
    sim.reset_log()
    for key, value in TEST_CONFIG.items():
        setattr(sim.config, key, value)
    sim.config.default_faults = FaultConfig()
    listener.reset()
    async with httpx.AsyncClient(timeout=5) as http:
        client = TS(sim, root, http, listener)
        account = {
            "accountName": ACCOUNT,
            "client_key": CLIENT_KEY,
            "client_secret": CLIENT_SECRET,
            "username": USERNAME,
            "password": PASSWORD,
            "callback": {"url": listener.url, "username": CB_USER, "password": CB_PASS},
        }
        await client.admin("POST", "/accounts", json=account)
        await client.connect()
        yield client
