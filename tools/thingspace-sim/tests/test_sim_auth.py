import asyncio
import uuid

from sim_helpers import ACCOUNT, PASSWORD, TS


async def test_token_is_the_same_within_its_lifetime(ts: TS) -> None:
    first, second = await ts.token(), await ts.token()

    assert first.status_code == second.status_code == 200
    body = first.json()
    assert body["token_type"] == "bearer"
    assert 0 < body["expires_in"] <= 3600
    assert body["scope"]
    assert second.json()["access_token"] == body["access_token"]


async def test_token_refused_with_bad_credentials(ts: TS) -> None:
    wrong_secret = await ts.token(secret="nope")
    unknown_key = await ts.token(key="who")

    for response in (wrong_secret, unknown_key):
        assert response.status_code == 401
        assert set(response.json()) == {"error", "error_description"}
    stats = (await ts.admin("GET", "/stats")).json()
    assert stats["token_refusals"] == 2


async def test_token_ttl_fault_expires_access_token_early(ts: TS) -> None:
    await ts.faults(token_ttl_s=0.05)
    ts.access = (await ts.token()).json()["access_token"]
    await asyncio.sleep(0.1)

    expired = await ts.call("POST", "/devices/actions/list", json={})
    renewed = (await ts.token()).json()["access_token"]

    assert expired.status_code == 401
    assert expired.json()["fault"]["code"] == "900901"
    assert renewed != ts.access


async def test_login_locks_user_after_five_failures(ts: TS) -> None:
    failures = [await ts.login(password="wrong") for _ in range(5)]
    with_right_password = await ts.login(password=PASSWORD)

    assert all(r.status_code == 400 for r in failures)
    assert failures[0].json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.Login.Invalid"
    assert with_right_password.status_code == 400
    assert with_right_password.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.User.Locked"
    await ts.admin("POST", f"/accounts/{ACCOUNT}/unlock")
    assert (await ts.login()).status_code == 200


async def test_successful_login_resets_the_failure_count(ts: TS) -> None:
    for _ in range(4):
        await ts.login(password="wrong")
    assert (await ts.login()).status_code == 200
    for _ in range(4):
        await ts.login(password="wrong")

    assert (await ts.login()).status_code == 200


async def test_session_header_errors_have_the_carrier_shapes(ts: TS) -> None:
    missing = await ts.call("POST", "/devices/actions/list", headers={"VZ-M2M-Token": ""}, json={})
    garbage = await ts.call("POST", "/devices/actions/list", headers={"VZ-M2M-Token": "x"}, json={})
    unknown = await ts.call(
        "POST", "/devices/actions/list", headers={"VZ-M2M-Token": str(uuid.uuid4())}, json={}
    )

    assert [r.status_code for r in (missing, garbage, unknown)] == [400, 400, 400]
    assert missing.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.SessionToken.Format"
    assert garbage.json()["errorCode"] == "UnifiedWebService.INPUT_INVALID.SessionToken.Invalid"
    assert unknown.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.SessionToken.Expired"


async def test_session_expires_after_idle_time_and_use_extends_it(ts: TS) -> None:
    await ts.admin("PATCH", "/config", json={"session_idle_s": 0.2})
    await ts.connect()
    for _ in range(3):
        await asyncio.sleep(0.1)
        assert (await ts.call("POST", "/devices/actions/list", json={})).status_code == 200
    await asyncio.sleep(0.3)

    expired = await ts.call("POST", "/devices/actions/list", json={})

    assert expired.status_code == 400
    assert expired.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.SessionToken.Expired"


async def test_access_token_errors_are_gateway_faults(ts: TS) -> None:
    missing = await ts.call("POST", "/devices/actions/list", headers={"Authorization": ""}, json={})
    wrong = await ts.call(
        "POST", "/devices/actions/list", headers={"Authorization": "Bearer nope"}, json={}
    )

    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["fault"]["code"] == "900902"
    assert wrong.json()["fault"] == {
        "code": "900901",
        "message": "Invalid Credentials",
        "description": wrong.json()["fault"]["description"],
    }


async def test_logout_ends_the_session(ts: TS) -> None:
    assert (await ts.call("POST", "/session/logout")).status_code == 200

    after = await ts.call("POST", "/devices/actions/list", json={})

    assert after.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.SessionToken.Expired"
