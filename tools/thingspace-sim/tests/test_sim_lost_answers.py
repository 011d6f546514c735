"""An action carried out whose answer is then lost, in each way a network loses one; sessions
the carrier forgets; actions counted per device."""

import asyncio

import httpx
import pytest
from sim_helpers import TS, dev

SUSPEND = "/devices/actions/suspend"


async def _suspended_once(ts: TS, iccid: str) -> None:
    for _ in range(50):  # the transition takes effect with the device's callback
        if (await ts.device(iccid))["state"] == "suspend":
            break
        await asyncio.sleep(0.02)
    assert (await ts.device(iccid))["state"] == "suspend"
    counted = (await ts.admin("GET", f"/actions?iccid={iccid}")).json()
    assert counted["actions"] == {f"suspend:{iccid}": 1}


async def test_gateway_504_after_the_action_was_carried_out(ts: TS) -> None:
    await ts.seed_devices({"iccid": "71", "state": "active", "servicePlan": "P"})
    await ts.faults(lost_answer_rate=1, lost_answer_mode="gateway_504")

    answer = await ts.call("POST", SUSPEND, json={"devices": [dev("71")]})

    assert answer.status_code == 504
    assert answer.json()["errorCode"] == "UnifiedWebService.REQUEST_FAILED.UnexpectedError"
    await _suspended_once(ts, "71")


async def test_connection_reset_after_the_request_was_read_and_carried_out(ts: TS) -> None:
    await ts.seed_devices({"iccid": "72", "state": "active", "servicePlan": "P"})
    await ts.faults(lost_answer_rate=1, lost_answer_mode="reset")

    with pytest.raises(httpx.RemoteProtocolError):
        await ts.call("POST", SUSPEND, json={"devices": [dev("72")]})

    await _suspended_once(ts, "72")
    [call] = (await ts.admin("GET", f"/calls?path=/api/m2m/v1{SUSPEND}")).json()["calls"]
    assert call["fault"] == "reset"


async def test_latency_after_the_action_leaves_it_done_when_the_client_gives_up(ts: TS) -> None:
    await ts.seed_devices({"iccid": "73", "state": "active", "servicePlan": "P"})
    await ts.faults(latency_ms=300, latency_after_action=True)

    with pytest.raises(httpx.ReadTimeout):
        await ts.call("POST", SUSPEND, json={"devices": [dev("73")]}, timeout=0.1)

    await _suspended_once(ts, "73")


async def test_a_forgotten_session_answers_session_token_invalid(ts: TS) -> None:
    await ts.faults(session_ttl_s=0.05, forget_sessions=True)
    await ts.connect()
    await asyncio.sleep(0.1)

    answer = await ts.call("POST", "/devices/actions/list", json={})

    assert answer.json()["errorCode"] == "UnifiedWebService.INPUT_INVALID.SessionToken.Invalid"


async def test_actions_are_counted_per_device_and_a_second_one_shows(ts: TS) -> None:
    await ts.seed_devices({"iccid": "74", "state": "active", "servicePlan": "P"})
    await ts.call("POST", SUSPEND, json={"devices": [dev("74")]})
    await _suspended_once(ts, "74")
    await ts.call("POST", "/devices/actions/restore", json={"devices": [dev("74")]})

    counted = (await ts.admin("GET", "/actions?iccid=74")).json()
    assert counted["actions"] == {"suspend:74": 1, "restore:74": 1}
    assert (await ts.admin("GET", "/stats")).json()["max_actions_per_device"] == 1
