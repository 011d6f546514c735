import asyncio
import base64
from urllib.parse import parse_qs

import httpx
import pytest

from devicebulk_common.carriers import AuthExpiredError, CredentialsRefusedError, ThrottledError

from .helpers import (
    ACCESS_INVALID,
    CLIENT_KEY,
    CLIENT_SECRET,
    DEVICE,
    PASSWORD,
    SESSION_EXPIRED,
    USERNAME,
    accepted,
    body_of,
    thingspace,
)

SUSPEND = "/m2m/v1/devices/actions/suspend"


async def test_token_fetch_sends_basic_auth_and_form_body():
    async with thingspace() as ts:
        ts.router.post(SUSPEND).mock(return_value=accepted())
        await ts.adapter.suspend([DEVICE])

    request = ts.token_route.calls.last.request
    expected = base64.b64encode(f"{CLIENT_KEY}:{CLIENT_SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {"grant_type": ["client_credentials"]}


async def test_access_token_is_reused_within_its_lifetime():
    async with thingspace() as ts:
        ts.router.post(SUSPEND).mock(return_value=accepted())
        for _ in range(3):
            await ts.adapter.suspend([DEVICE])
            ts.clock.now += 600  # sessions stay alive through use; the token is within its hour

    assert ts.token_route.call_count == 1


async def test_access_token_is_refreshed_within_the_margin_of_its_expiry():
    async with thingspace() as ts:
        ts.router.post(SUSPEND).mock(return_value=accepted())
        await ts.adapter.suspend([DEVICE])
        ts.clock.now += 3600 - 59
        await ts.adapter.suspend([DEVICE])

    assert ts.token_route.call_count == 2


async def test_session_login_happens_once_and_both_headers_go_on_every_call():
    async with thingspace() as ts:
        route = ts.router.post(SUSPEND).mock(return_value=accepted())
        for _ in range(3):
            await ts.adapter.suspend([DEVICE])

    assert ts.login_route.call_count == 1
    login = ts.login_route.calls.last.request
    assert login.headers["Authorization"] == "Bearer access-1"
    assert body_of(ts.login_route) == {"username": USERNAME, "password": PASSWORD}
    for call in route.calls:
        assert call.request.headers["Authorization"] == "Bearer access-1"
        assert call.request.headers["VZ-M2M-Token"] == "session-1"
        assert call.request.headers["Content-Type"] == "application/json"


async def test_session_kept_alive_by_use_but_renewed_after_idling():
    async with thingspace() as ts:
        ts.router.post(SUSPEND).mock(return_value=accepted())
        await ts.adapter.suspend([DEVICE])
        ts.clock.now += 600
        await ts.adapter.suspend([DEVICE])  # bumps the session's expiry
        ts.clock.now += 600
        await ts.adapter.suspend([DEVICE])
        assert ts.login_route.call_count == 1
        ts.clock.now += 15 * 60
        await ts.adapter.suspend([DEVICE])

    assert ts.login_route.call_count == 2


async def test_expired_session_logs_in_exactly_once_then_succeeds():
    async with thingspace() as ts:
        route = ts.router.post(SUSPEND)
        route.side_effect = [httpx.Response(400, json=SESSION_EXPIRED), accepted("req-9")]
        result = await ts.adapter.suspend([DEVICE])

    assert result.request_id == "req-9"
    assert ts.login_route.call_count == 2
    assert ts.token_route.call_count == 1
    assert route.calls[1].request.headers["VZ-M2M-Token"] == "session-2"


async def test_second_expired_session_raises():
    async with thingspace() as ts:
        route = ts.router.post(SUSPEND).mock(return_value=httpx.Response(400, json=SESSION_EXPIRED))
        with pytest.raises(AuthExpiredError) as caught:
            await ts.adapter.suspend([DEVICE])

    assert caught.value.token == "session"
    assert caught.value.retryable
    assert route.call_count == 2
    assert ts.login_route.call_count == 2


async def test_invalid_access_token_gets_new_token_new_session_and_one_retry():
    async with thingspace() as ts:
        route = ts.router.post(SUSPEND)
        route.side_effect = [httpx.Response(401, json=ACCESS_INVALID), accepted()]
        await ts.adapter.suspend([DEVICE])

    assert ts.token_route.call_count == 2
    assert ts.login_route.call_count == 2
    retry = route.calls[1].request
    assert retry.headers["Authorization"] == "Bearer access-2"
    assert retry.headers["VZ-M2M-Token"] == "session-2"


async def test_second_invalid_access_token_raises():
    async with thingspace() as ts:
        route = ts.router.post(SUSPEND).mock(return_value=httpx.Response(401, json=ACCESS_INVALID))
        with pytest.raises(AuthExpiredError) as caught:
            await ts.adapter.suspend([DEVICE])

    assert caught.value.token == "access"
    assert route.call_count == 2
    assert ts.token_route.call_count == 2


async def test_login_rejecting_the_access_token_fetches_a_new_one_instead_of_giving_up():
    async with thingspace() as ts:
        ts.login_route.side_effect = [
            httpx.Response(401, json=ACCESS_INVALID),
            httpx.Response(200, json={"sessionToken": "session-ok"}),
        ]
        route = ts.router.post(SUSPEND).mock(return_value=accepted())
        await ts.adapter.suspend([DEVICE])

    assert ts.token_route.call_count == 2
    assert route.calls.last.request.headers["VZ-M2M-Token"] == "session-ok"


async def test_refused_login_raises_and_is_never_retried():
    refusal = {"errorCode": "UnifiedWebService.INPUT_INVALID.Login.Invalid", "errorMessage": "no"}
    async with thingspace() as ts:
        ts.login_route.side_effect = None
        ts.login_route.mock(return_value=httpx.Response(400, json=refusal))
        route = ts.router.post(SUSPEND).mock(return_value=accepted())
        for _ in range(3):
            with pytest.raises(CredentialsRefusedError):
                await ts.adapter.suspend([DEVICE])

    assert ts.login_route.call_count == 1
    assert route.call_count == 0


async def test_concurrent_callers_share_one_refused_login():
    async with thingspace() as ts:
        ts.login_route.side_effect = None
        ts.login_route.mock(return_value=httpx.Response(401, json={"errorCode": "Login.Failed"}))
        results = await asyncio.gather(
            *(ts.adapter.suspend([DEVICE]) for _ in range(10)), return_exceptions=True
        )

    assert all(isinstance(r, CredentialsRefusedError) for r in results)
    assert ts.login_route.call_count == 1


async def test_refused_token_fetch_raises_credentials_refused_once():
    async with thingspace() as ts:
        ts.token_route.side_effect = None
        ts.token_route.mock(
            return_value=httpx.Response(
                401, json={"error": "invalid_client", "error_description": "bad secret"}
            )
        )
        for _ in range(2):
            with pytest.raises(CredentialsRefusedError) as caught:
                await ts.adapter.suspend([DEVICE])

    assert ts.token_route.call_count == 1
    assert ts.login_route.call_count == 0
    assert not caught.value.retryable


async def test_throttled_login_is_not_a_refusal():
    async with thingspace() as ts:
        ts.login_route.side_effect = [
            httpx.Response(429),
            httpx.Response(200, json={"sessionToken": "s"}),
        ]
        ts.router.post(SUSPEND).mock(return_value=accepted())
        with pytest.raises(ThrottledError):
            await ts.adapter.suspend([DEVICE])
        await ts.adapter.suspend([DEVICE])

    assert ts.login_route.call_count == 2


async def test_concurrent_calls_on_an_empty_cache_fetch_one_token_and_one_session():
    async with thingspace() as ts:
        route = ts.router.post(SUSPEND).mock(return_value=accepted())
        await asyncio.gather(*(ts.adapter.suspend([DEVICE]) for _ in range(20)))

    assert ts.token_route.call_count == 1
    assert ts.login_route.call_count == 1
    assert route.call_count == 20


async def test_concurrent_expired_sessions_log_in_once():
    async with thingspace() as ts:
        await ts.cache.set(ts.adapter._auth.oauth_key, "access-0", ts.clock.now + 3000)
        await ts.cache.set(ts.adapter._auth.session_key, "stale", ts.clock.now + 600)

        def answer(request: httpx.Request) -> httpx.Response:
            if request.headers["VZ-M2M-Token"] == "stale":
                return httpx.Response(400, json=SESSION_EXPIRED)
            return accepted()

        ts.router.post(SUSPEND).mock(side_effect=answer)
        await asyncio.gather(*(ts.adapter.suspend([DEVICE]) for _ in range(10)))

    assert ts.login_route.call_count == 1
