"""Plain factories for the Control Center adapter's unit tests (respx, no fixtures)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import respx

from devicebulk_common.carriers import DeviceRef, InProcessTokenCache
from devicebulk_common.carriers.jasper import JasperAdapter, JasperConfig

BASE_URL = "https://restapi.jasper.test/rws/api/v1"
ACCOUNT = "100020620"
USERNAME = "api-user"
API_KEY = "3f2a9c1e-jasper-api-key"
ICCID = "8901000000000000001"
DEVICE = DeviceRef(iccid=ICCID)
DEVICE_PATH = f"/devices/{ICCID}"

SSL_CONTEXT = ssl.create_default_context()


def cc_error(code: str, message: str = "it went wrong") -> dict[str, str]:
    return {"errorMessage": message, "errorCode": code}


@dataclass
class Harness:
    router: respx.MockRouter
    adapter: JasperAdapter
    cache: InProcessTokenCache
    sleeps: list[float]
    clock: FakeClock


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def jasper(**config: Any) -> AsyncIterator[Harness]:
    """A respx-mocked Control Center and an adapter talking to it (backoff sleeps recorded)."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    clock = FakeClock()
    cache = InProcessTokenCache(clock=clock)
    async with (
        respx.mock(base_url=BASE_URL, assert_all_called=False) as router,
        httpx.AsyncClient(verify=SSL_CONTEXT) as http,
    ):
        adapter = JasperAdapter(
            http,
            base_url=BASE_URL,
            account_name=ACCOUNT,
            username=USERNAME,
            api_key=API_KEY,
            refusal_cache=cache,
            config=JasperConfig.from_mapping(config),
            sleep=sleep,
            clock=clock,
        )
        yield Harness(router, adapter, cache, sleeps, clock)
