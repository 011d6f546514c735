"""A fresh simulator (a real HTTP server in this event loop) with one account and active devices."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from devicebulk_devstack.testdata import make_iccid, unique_id
from thingspace_sim import SimConfig, create_app
from thingspace_sim.serving import serve


@asynccontextmanager
async def sim_account(
    devices: int, faults: dict[str, Any] | None = None
) -> AsyncIterator[tuple[str, str, dict[str, str], list[str], httpx.AsyncClient]]:
    """Yields (base URL, account name, API credentials, ICCIDs, admin client)."""
    name = f"A-{uuid.uuid4().hex[:8]}"
    creds = {
        "client_key": f"k-{name}",
        "client_secret": "s",
        "username": f"u-{name}",
        "password": "p",
    }
    async with (
        serve(create_app(SimConfig(callback_delay=0.01))) as url,
        httpx.AsyncClient(base_url=url) as admin,
    ):
        account = {"accountName": name, **creds, **({"faults": faults} if faults else {})}
        (await admin.post("/_sim/accounts", json=account)).raise_for_status()
        iccids = [make_iccid(unique_id() * 1000 + i) for i in range(devices)]
        devices_body = {
            "accountName": name,
            "devices": [{"iccid": d, "state": "active"} for d in iccids],
        }
        (await admin.post("/_sim/devices", json=devices_body)).raise_for_status()
        yield url, name, creds, iccids, admin
