"""Test helpers: a callback listener and a small ThingSpace client."""

from __future__ import annotations

import asyncio
import base64
from contextlib import suppress
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse

from thingspace_sim.context import Sim

ACCOUNT = "0000123456-00001"
CLIENT_KEY, CLIENT_SECRET = "key-1", "secret-1"
USERNAME, PASSWORD = "api-user", "api-pass"
CB_USER, CB_PASS = "cb-user", "cb-pass"
TEST_CONFIG: dict[str, Any] = {
    "callback_delay": 0.02,
    "callback_retry_interval": 0.05,
    "callback_max_retries": 3,
    "token_lifetime_s": 3600,
    "session_idle_s": 1200,
    "page_size": 2000,
    "max_failed_logins": 5,
    "max_devices_per_request": 10_000,
    "max_plan_changes_per_month": 4,
}


class Listener:
    """Receives callbacks; answers the queued statuses first, then 200."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: list[int] = []
        self.url = ""
        self._event = asyncio.Event()

    def reset(self) -> None:
        self.received.clear()
        self.answers.clear()

    async def endpoint(self, request: Request) -> JSONResponse:
        self.received.append(await request.json())
        self._event.set()
        status = self.answers.pop(0) if self.answers else 200
        return JSONResponse({"ok": status < 300}, status_code=status)

    async def wait_for(self, count: int, timeout: float = 3.0, **match: Any) -> list[dict]:
        """Wait until `count` callbacks matching `match` (top-level fields) arrived."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [b for b in self.received if all(b.get(k) == v for k, v in match.items())]
            if len(found) >= count:
                return found
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"got {len(found)} of {count} callbacks: {self.received[-3:]}")
            self._event.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout=left)


class TS:
    """A tiny ThingSpace client for the tests, plus the simulator's admin calls."""

    def __init__(self, sim: Sim, root: str, http: httpx.AsyncClient, listener: Listener) -> None:
        self.sim, self.root, self.http, self.listener = sim, root, http, listener
        self.api = f"{root}/api"
        self.access = ""
        self.session = ""

    async def token(self, key: str = CLIENT_KEY, secret: str = CLIENT_SECRET) -> httpx.Response:
        basic = base64.b64encode(f"{key}:{secret}".encode()).decode()
        return await self.http.post(
            f"{self.api}/ts/v1/oauth2/token",
            headers={"Authorization": f"Basic {basic}"},
            data={"grant_type": "client_credentials"},
        )

    async def login(self, username: str = USERNAME, password: str = PASSWORD) -> httpx.Response:
        return await self.http.post(
            f"{self.api}/m2m/v1/session/login",
            headers={"Authorization": f"Bearer {self.access}"},
            json={"username": username, "password": password},
        )

    async def connect(self) -> None:
        self.access = (await self.token()).json()["access_token"]
        self.session = (await self.login()).json()["sessionToken"]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}", "VZ-M2M-Token": self.session}

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers(), **kw.pop("headers", {})}
        return await self.http.request(method, f"{self.api}/m2m/v1{path}", headers=headers, **kw)

    async def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        response = await self.http.request(method, f"{self.root}/_sim{path}", **kw)
        assert response.status_code < 300, response.text
        return response

    async def seed_devices(self, *devices: dict[str, Any]) -> None:
        await self.admin("POST", "/devices", json={"accountName": ACCOUNT, "devices": devices})

    async def device(self, iccid: str) -> dict[str, Any]:
        return (await self.admin("GET", f"/devices/{iccid}")).json()

    async def faults(self, **faults: Any) -> None:
        await self.admin("PUT", f"/accounts/{ACCOUNT}/faults", json=faults)

    async def listed(self, **body: Any) -> dict[str, Any]:
        response = await self.call("POST", "/devices/actions/list", json=body)
        assert response.status_code == 200, response.text
        return response.json()


def dev(iccid: str, imei: str | None = None) -> dict[str, Any]:
    ids = [{"kind": "Iccid", "id": iccid}]
    if imei:
        ids.append({"kind": "IMEI", "id": imei})
    return {"deviceIds": ids}
