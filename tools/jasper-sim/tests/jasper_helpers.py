"""Test helpers: a small Control Center client plus the simulator's admin calls."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from jasper_sim.context import Sim

ACCOUNT = "100020620"
USERNAME, API_KEY = "api-user", "9b8d6f0e-api-key-1"
RATE_PLANS = ["M2M 1GB", "M2M 5GB"]
ICCID = "8901000000000000001"


def basic(username: str = USERNAME, api_key: str = API_KEY) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{api_key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def iccid(n: int) -> str:
    return f"89010000000000{n:05d}"


class CC:
    """A tiny Control Center client for the tests, plus the simulator's admin calls."""

    def __init__(self, sim: Sim, root: str, http: httpx.AsyncClient) -> None:
        self.sim, self.root, self.http = sim, root, http
        self.api = f"{root}/rws/api/v1"

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**basic(), **kw.pop("headers", {})}
        return await self.http.request(method, f"{self.api}{path}", headers=headers, **kw)

    async def edit(self, iccid: str, **body: Any) -> httpx.Response:
        return await self.call("PUT", f"/devices/{iccid}", json=body)

    async def details(self, iccid: str) -> dict[str, Any]:
        response = await self.call("GET", f"/devices/{iccid}")
        assert response.status_code == 200, response.text
        return response.json()

    async def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        response = await self.http.request(method, f"{self.root}/_sim{path}", **kw)
        assert response.status_code < 300, response.text
        return response

    async def seed_devices(self, *devices: dict[str, Any]) -> None:
        await self.admin("POST", "/devices", json={"accountId": ACCOUNT, "devices": devices})

    async def faults(self, **faults: Any) -> None:
        await self.admin("PUT", f"/accounts/{ACCOUNT}/faults", json=faults)

    async def stats(self) -> dict[str, Any]:
        return (await self.admin("GET", "/stats")).json()

    async def sim_device(self, iccid: str) -> dict[str, Any]:
        return (await self.admin("GET", f"/devices/{iccid}")).json()
