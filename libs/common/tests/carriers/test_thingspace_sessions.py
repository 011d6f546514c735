"""Logins are precious: any session-token error is one new login and one retry, and a login
takes a slot of the account's budget like any other call."""

import httpx
import pytest

from .helpers import DEVICE, accepted, thingspace

SUSPEND = "/m2m/v1/devices/actions/suspend"


@pytest.mark.parametrize(
    "code",
    [
        "UnifiedWebService.INPUT_INVALID.SessionToken.Invalid",  # the carrier forgot it
        "UnifiedWebService.REQUEST_FAILED.SessionToken.Format",
    ],
)
async def test_any_session_token_error_logs_in_once_and_retries_once(code):
    forgotten = {"errorCode": code, "errorMessage": "The session token is not valid."}
    async with thingspace() as ts:
        route = ts.router.post(SUSPEND)
        route.side_effect = [httpx.Response(400, json=forgotten), accepted("req-7")]
        result = await ts.adapter.suspend([DEVICE])

    assert result.request_id == "req-7"
    assert ts.login_route.call_count == 2
    assert route.calls[1].request.headers["VZ-M2M-Token"] == "session-2"


async def test_a_missing_access_token_fault_900902_gets_a_new_token_and_one_retry():
    missing = {"fault": {"code": "900902", "message": "Missing Credentials"}}
    async with thingspace() as ts:
        route = ts.router.post(SUSPEND)
        route.side_effect = [httpx.Response(401, json=missing), accepted("req-8")]
        result = await ts.adapter.suspend([DEVICE])

    assert result.request_id == "req-8"
    assert ts.token_route.call_count == 2


async def test_a_login_takes_a_slot_of_the_account_budget():
    slots: list[str] = []

    async def pacer() -> None:
        slots.append("slot")

    async with thingspace(pacer=pacer) as ts:
        ts.router.post(SUSPEND).mock(return_value=accepted())
        await ts.adapter.suspend([DEVICE])
        await ts.adapter.suspend([DEVICE])

    assert ts.login_route.call_count == 1
    assert len(slots) == 3  # one login and two calls: the carrier counts all three


async def test_a_login_is_never_sent_with_an_access_token_known_to_be_ended():
    async with thingspace() as ts:
        auth = ts.adapter._auth
        ended = await auth.access_token()
        await auth.invalidate_access(ended)  # another caller met 900901 with it meanwhile
        await auth.session_token(ended)

    assert ended == "access-1"
    assert ts.login_route.calls[0].request.headers["Authorization"] == "Bearer access-2"
