import asyncio

import httpx
from sim_helpers import ACCOUNT, TS, dev


async def test_requests_past_the_budget_get_429_with_retry_after(ts: TS) -> None:
    await ts.faults(rate_limit_per_minute=3)

    answers = [await ts.call("POST", "/devices/actions/list", json={}) for _ in range(5)]

    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
    assert answers[3].json()["errorCode"].startswith("UnifiedWebService.REQUEST_FAILED.")
    assert (await ts.admin("GET", "/stats")).json()["rate_limited"] == 2


async def test_error_rate_one_answers_5xx_and_changes_nothing(ts: TS) -> None:
    await ts.seed_devices({"iccid": "61", "state": "active", "servicePlan": "P"})
    await ts.faults(error_rate=1)

    answer = await ts.call("POST", "/devices/actions/suspend", json={"devices": [dev("61")]})
    await asyncio.sleep(0.1)

    assert answer.status_code in (500, 503)
    assert answer.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.UnexpectedError"
    assert (await ts.device("61"))["state"] == "active"
    assert ts.listener.received == []
    assert (await ts.admin("GET", "/stats")).json()["errors_5xx"] == 1


async def test_timed_out_call_is_not_applied(ts: TS) -> None:
    await ts.seed_devices({"iccid": "62", "state": "active", "servicePlan": "P"})
    await ts.faults(timeout_rate=1, timeout_s=0.3)

    try:
        await ts.call(
            "POST", "/devices/actions/suspend", json={"devices": [dev("62")]}, timeout=0.1
        )
        raise AssertionError("expected a client timeout")
    except httpx.ReadTimeout:
        pass
    await asyncio.sleep(0.35)

    assert (await ts.device("62"))["state"] == "active"
    assert ts.listener.received == []
    [call] = (await ts.admin("GET", "/calls?path=/api/m2m/v1/devices/actions/suspend")).json()[
        "calls"
    ]
    assert (call["status"], call["fault"]) == (504, "timeout")


async def test_latency_is_added_to_answers(ts: TS) -> None:
    await ts.faults(latency_ms=150)
    loop = asyncio.get_running_loop()

    started = loop.time()
    await ts.call("POST", "/devices/actions/list", json={"accountName": ACCOUNT})

    assert loop.time() - started >= 0.15


async def test_session_ttl_fault_expires_sessions_early(ts: TS) -> None:
    await ts.faults(session_ttl_s=0.05)
    await ts.connect()
    await asyncio.sleep(0.1)

    answer = await ts.call("POST", "/devices/actions/list", json={})

    assert answer.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.SessionToken.Expired"
