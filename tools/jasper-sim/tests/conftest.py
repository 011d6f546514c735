"""The simulator as a real uvicorn server on a free local port, reset for every test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from jasper_helpers import ACCOUNT, API_KEY, CC, RATE_PLANS, USERNAME

from jasper_sim import SimConfig, create_app
from jasper_sim.context import Sim
from jasper_sim.serving import serve


@pytest.fixture(scope="session")
async def jasper_server() -> AsyncIterator[tuple[Sim, str]]:
    app = create_app(SimConfig(random_seed=7))
    async with serve(app) as url:
        yield app.state.sim, url


@pytest.fixture
async def cc(jasper_server: tuple[Sim, str]) -> AsyncIterator[CC]:
    """A clean simulator with one account, one API user, and its rate plans."""
    sim, root = jasper_server
    sim.state.clear()
    sim.reset_log()
    for key, value in SimConfig().model_dump(exclude={"random_seed"}).items():
        setattr(sim.config, key, value)
    async with httpx.AsyncClient(timeout=5) as http:
        client = CC(sim, root, http)
        account = {
            "accountId": ACCOUNT,
            "ratePlans": RATE_PLANS,
            "communicationPlans": ["CP Basic"],
            "customers": ["Acme"],
            "users": [{"userName": USERNAME, "apiKey": API_KEY}],
        }
        await client.admin("POST", "/accounts", json=account)
        yield client
