"""The ThingSpace simulator served for real on a free local port, and a CLI runner."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from devicebulk_admin.cli import main
from thingspace_sim import SimConfig, create_app
from thingspace_sim.context import Sim
from thingspace_sim.serving import serve


@pytest.fixture(scope="session")
def new_id(pytestconfig: pytest.Config) -> Callable[[], int]:
    """The root conftest's `unique_id` (that module is reachable only as a registered plugin,
    since this directory's own conftest takes the name `conftest`)."""
    root = pytestconfig.pluginmanager.get_plugin(str(pytestconfig.rootpath / "conftest.py"))
    assert root is not None, "the repository's root conftest.py was not loaded"
    return root.unique_id


@dataclass
class SimServer:
    sim: Sim
    url: str


@pytest.fixture(scope="session")
async def sim_server() -> AsyncIterator[SimServer]:
    app = create_app(SimConfig(callback_delay=0.01, random_seed=11))
    async with serve(app) as url:
        yield SimServer(app.state.sim, url)


@dataclass
class SimAccount:
    """One carrier account of the simulator, with its admin calls."""

    server: SimServer
    http: httpx.AsyncClient
    name: str
    credentials: dict[str, str]

    @property
    def api_url(self) -> str:
        return f"{self.server.url}/api"

    async def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        response = await self.http.request(method, f"{self.server.url}/_sim{path}", **kw)
        assert response.status_code < 300, response.text
        return response

    async def seed_devices(self, devices: Sequence[dict[str, Any]]) -> None:
        await self.admin("POST", "/devices", json={"accountName": self.name, "devices": devices})

    async def device(self, iccid: str) -> dict[str, Any]:
        return (await self.admin("GET", f"/devices/{iccid}")).json()

    async def view(self) -> dict[str, Any]:
        return (await self.admin("GET", f"/accounts/{self.name}")).json()


@pytest.fixture
async def sim_account(sim_server: SimServer) -> AsyncIterator[SimAccount]:
    suffix = uuid.uuid4().hex[:8]
    credentials = {
        "client_key": f"key-{suffix}",
        "client_secret": f"secret-{suffix}",
        "username": f"api-{suffix}",
        "password": f"pw-{suffix}",
    }
    async with httpx.AsyncClient(timeout=10) as http:
        account = SimAccount(sim_server, http, f"ACC-{suffix}", credentials)
        await account.admin("POST", "/accounts", json={"accountName": account.name, **credentials})
        yield account


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], database_url: str, credentials_key: str):
    """Run `devicebulk-admin ARGS --database-url ...` in a thread (it runs its own loop)."""

    async def run(*args: str, database: bool = True) -> CliRun:
        argv = [*args, "--database-url", database_url] if database else list(args)
        capsys.readouterr()
        code = await asyncio.to_thread(main, argv)
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run
