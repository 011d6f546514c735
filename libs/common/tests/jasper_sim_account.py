"""A fresh Control Center simulator (a real HTTP server in this event loop) with one account,
one API user and its devices, plus adapters that talk to it like worker processes do."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from devicebulk_common.carriers import DeviceRef, InProcessTokenCache, TokenCache
from devicebulk_common.carriers.jasper import JasperAdapter, JasperConfig
from devicebulk_common.carriers.jasper.gate import Gate
from devicebulk_common.carriers.rate_limit import Pacer
from devicebulk_devstack.testdata import make_iccid, unique_id
from jasper_sim import SimConfig, create_app
from jasper_sim.serving import serve

RATE_PLANS = ["M2M 1GB", "M2M 5GB"]


@dataclass
class SimAccount:
    root: str
    account: str
    username: str
    api_key: str
    iccids: list[str]
    admin: httpx.AsyncClient

    @property
    def base_url(self) -> str:
        return f"{self.root}/rws/api/v1"

    @property
    def devices(self) -> list[DeviceRef]:
        return [DeviceRef(iccid=i) for i in self.iccids]

    async def faults(self, **faults: Any) -> None:
        (
            await self.admin.put(f"/_sim/accounts/{self.account}/faults", json=faults)
        ).raise_for_status()

    async def device(self, iccid: str) -> dict[str, Any]:
        response = await self.admin.get(f"/_sim/devices/{iccid}")
        response.raise_for_status()
        return response.json()

    async def stats(self) -> dict[str, Any]:
        return (await self.admin.get("/_sim/stats")).json()

    async def edits(self) -> dict[str, Any]:
        return (await self.admin.get("/_sim/edits")).json()

    def adapter(
        self,
        http: httpx.AsyncClient,
        *,
        cache: TokenCache | None = None,
        pacer: Pacer | None = None,
        gate: Gate | None = None,
        **config: Any,
    ) -> JasperAdapter:
        return JasperAdapter(
            http,
            base_url=self.base_url,
            account_name=self.account,
            username=self.username,
            api_key=self.api_key,
            refusal_cache=cache or InProcessTokenCache(),
            config=JasperConfig.from_mapping(config),
            pacer=pacer,
            gate=gate,
        )


@asynccontextmanager
async def jasper_account(
    devices: int, *, status: str = "ACTIVATED", faults: dict[str, Any] | None = None
) -> AsyncIterator[SimAccount]:
    account = f"A{uuid.uuid4().hex[:8]}"
    username, api_key = f"u-{account}", f"key-{uuid.uuid4()}"
    async with (
        serve(create_app(SimConfig())) as root,
        httpx.AsyncClient(base_url=root) as admin,
    ):
        body = {
            "accountId": account,
            "ratePlans": RATE_PLANS,
            "users": [{"userName": username, "apiKey": api_key}],
            **({"faults": faults} if faults else {}),
        }
        (await admin.post("/_sim/accounts", json=body)).raise_for_status()
        iccids = [make_iccid(unique_id() * 1000 + i) for i in range(devices)]
        seeded = {
            "accountId": account,
            "devices": [{"iccid": i, "status": status, "ratePlan": RATE_PLANS[0]} for i in iccids],
        }
        (await admin.post("/_sim/devices", json=seeded)).raise_for_status()
        yield SimAccount(root, account, username, api_key, iccids, admin)
