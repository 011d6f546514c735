"""A refused login is never followed by another with the same credentials until an operator
acts: five refused logins lock the carrier's API user. A login whose answer was lost is not
an action whose outcome is unknown."""

import httpx
import pytest
from sqlalchemy import text

from devicebulk_common.carriers import (
    CredentialsRefusedError,
    ThingSpaceAdapter,
    TransientCarrierError,
)
from devicebulk_common.carriers.shared_tokens import SharedTokenCache
from devicebulk_common.carriers.thingspace import token_key_prefix

from .helpers import (
    ACCOUNT,
    BASE_URL,
    CLIENT_KEY,
    CLIENT_SECRET,
    DEVICE,
    SSL_CONTEXT,
    USERNAME,
    FakeClock,
    accepted,
    thingspace,
)

SUSPEND = "/m2m/v1/devices/actions/suspend"
REFUSAL = {"errorCode": "UnifiedWebService.INPUT_INVALID.Login.Invalid", "errorMessage": "no"}


async def test_a_refused_login_is_not_tried_again_hours_later_with_the_same_credentials():
    async with thingspace() as ts:
        ts.login_route.side_effect = None
        ts.login_route.mock(return_value=httpx.Response(400, json=REFUSAL))
        route = ts.router.post(SUSPEND).mock(return_value=accepted())
        with pytest.raises(CredentialsRefusedError):
            await ts.adapter.suspend([DEVICE])
        for later_s in (16 * 60, 6 * 3600, 7 * 86_400):  # the bulk changes of the next days
            ts.clock.now += later_s
            with pytest.raises(CredentialsRefusedError) as held:
                await ts.adapter.suspend([DEVICE])
            assert held.value.code == "CredentialsRefused"
            assert "save the provider's corrected credentials" in held.value.message

        # The operator saves the corrected password: the next call logs in with it.
        ts.login_route.mock(return_value=httpx.Response(200, json={"sessionToken": "fixed"}))
        async with httpx.AsyncClient(verify=SSL_CONTEXT) as http:
            corrected = ThingSpaceAdapter(
                http,
                base_url=BASE_URL,
                account_name=ACCOUNT,
                client_key=CLIENT_KEY,
                client_secret=CLIENT_SECRET,
                username=USERNAME,
                password="the-corrected-password",
                token_cache=ts.cache,
                clock=ts.clock,
            )
            await corrected.suspend([DEVICE])

    assert ts.login_route.call_count == 2  # the refused one, then the corrected one
    assert route.call_count == 1


@pytest.mark.parametrize("route", ["login_route", "token_route"])
async def test_a_gateway_504_on_the_login_leaves_the_action_known_not_sent(route):
    gateway = {"errorCode": "UnifiedWebService.REQUEST_FAILED.UnexpectedError", "errorMessage": "x"}
    async with thingspace() as ts:
        getattr(ts, route).side_effect = None
        getattr(ts, route).mock(return_value=httpx.Response(504, json=gateway))
        action = ts.router.post(SUSPEND).mock(return_value=accepted())
        with pytest.raises(TransientCarrierError) as caught:
            await ts.adapter.suspend([DEVICE])

    assert action.call_count == 0
    # Nothing to ask the carrier about before the next attempt: the suspend never left.
    assert not caught.value.outcome_unknown


async def test_credentials_saved_again_let_every_worker_log_in_without_a_restart(
    engine, credentials_key
):
    """The refusal mark lives in the shared token table: `update-provider` drops it when the
    operator saves the credentials again (e.g. once the carrier unlocked the API user), and a
    worker process that had seen the refusal logs in on its next call, not after a restart."""
    clock = FakeClock()
    shared = SharedTokenCache(engine, credentials_key=credentials_key, clock=clock)
    async with thingspace(token_cache=shared, clock=clock) as ts:
        ts.login_route.side_effect = None
        ts.login_route.mock(return_value=httpx.Response(400, json=REFUSAL))
        ts.router.post(SUSPEND).mock(return_value=accepted())
        with pytest.raises(CredentialsRefusedError):
            await ts.adapter.suspend([DEVICE])
        with pytest.raises(CredentialsRefusedError):
            await ts.adapter.suspend([DEVICE])  # held: no second login
        assert ts.login_route.call_count == 1

        # What update-provider does when the credentials are saved: drop the account's rows.
        prefix = token_key_prefix(BASE_URL, ACCOUNT) + ":"
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM carrier_token WHERE key LIKE :p"), {"p": prefix + "%"}
            )
        ts.login_route.mock(return_value=httpx.Response(200, json={"sessionToken": "again"}))
        await ts.adapter.suspend([DEVICE])
    assert ts.login_route.call_count == 2
