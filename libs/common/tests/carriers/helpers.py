"""Plain factories for the carrier adapter tests (no fixtures: they run with --noconftest)."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import respx

from devicebulk_common.carriers import DeviceRef, InProcessTokenCache, ThingSpaceAdapter

BASE_URL = "https://ts.test/api"
ACCOUNT = "0342059648-00001"
CLIENT_KEY = "client-key"
CLIENT_SECRET = "client-secret-xyz"
USERNAME = "api-user"
PASSWORD = "hunter2-password"

TOKEN_URL = "/ts/v1/oauth2/token"
LOGIN_URL = "/m2m/v1/session/login"

SESSION_EXPIRED = {
    "errorCode": "UnifiedWebService.REQUEST_FAILED.SessionToken.Expired",
    "errorMessage": "Session token expired",
}
ACCESS_INVALID = {
    "fault": {"code": "900901", "message": "Invalid Credentials", "description": "expired"}
}

# One SSL context for every test client: building one per client costs ~0.2 s.
SSL_CONTEXT = ssl.create_default_context()

DEVICE = DeviceRef(iccid="89148000000000000001", imei="990000000000001")


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    router: respx.MockRouter
    adapter: ThingSpaceAdapter
    cache: InProcessTokenCache
    clock: FakeClock
    token_route: respx.Route
    login_route: respx.Route


def counter_tokens(prefix: str, *, key: str, expires_in: int | None = None) -> Callable[..., Any]:
    """A side effect answering a new token on each call: prefix-1, prefix-2, ..."""
    calls = {"n": 0}

    async def answer(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        await asyncio.sleep(0.005)  # let concurrent callers pile up on the refresh lock
        body: dict[str, Any] = {key: f"{prefix}-{calls['n']}"}
        if expires_in is not None:
            body.update(token_type="bearer", expires_in=expires_in, scope="m2m")
        return httpx.Response(200, json=body)

    return answer


@asynccontextmanager
async def thingspace(**adapter_kwargs: Any) -> AsyncIterator[Harness]:
    """A respx-mocked ThingSpace with working auth, and an adapter talking to it."""
    clock = FakeClock()
    cache = InProcessTokenCache(clock=clock)
    async with (
        respx.mock(base_url=BASE_URL, assert_all_called=False) as router,
        httpx.AsyncClient(verify=SSL_CONTEXT) as http,
    ):
        token_route = router.post(TOKEN_URL, name="token")
        token_route.side_effect = counter_tokens("access", key="access_token", expires_in=3600)
        login_route = router.post(LOGIN_URL, name="login")
        login_route.side_effect = counter_tokens("session", key="sessionToken")
        kwargs: dict[str, Any] = {
            "base_url": BASE_URL,
            "account_name": ACCOUNT,
            "client_key": CLIENT_KEY,
            "client_secret": CLIENT_SECRET,
            "username": USERNAME,
            "password": PASSWORD,
            "token_cache": cache,
            "clock": clock,
            **adapter_kwargs,
        }
        adapter = ThingSpaceAdapter(http, **kwargs)
        yield Harness(router, adapter, cache, clock, token_route, login_route)


def accepted(request_id: str = "req-1") -> httpx.Response:
    return httpx.Response(200, json={"requestId": request_id})


def body_of(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)
