import asyncio

import httpx
from jasper_helpers import CC, ICCID, iccid


async def test_calls_past_the_per_second_cap_get_40000029_and_change_nothing(cc: CC) -> None:
    await cc.seed_devices(*({"iccid": iccid(n), "status": "ACTIVATED"} for n in range(5)))
    await cc.faults(calls_per_second=3, rate_limit_status=400)

    answers = await asyncio.gather(*(cc.edit(iccid(n), accountCustom1="x") for n in range(5)))

    assert sorted(a.status_code for a in answers) == [200, 200, 200, 400, 400]
    refused = [a for a in answers if a.status_code == 400]
    assert {a.json()["errorCode"] for a in refused} == {"40000029"}
    assert "Retry-After" not in refused[0].headers
    edited = [(await cc.sim_device(iccid(n)))["accountCustom1"] for n in range(5)]
    assert sorted(edited) == ["", "", "x", "x", "x"]
    stats = await cc.stats()
    assert stats["rate_limited"] == 2
    assert stats["by_error_code"] == {"40000029": 2}


async def test_one_call_at_a_time_refuses_a_concurrent_call(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID, "status": "ACTIVATED"})
    await cc.faults(max_concurrent=1, latency_ms=500)

    first, second = await asyncio.gather(
        cc.call("GET", f"/devices/{ICCID}"), cc.call("GET", f"/devices/{ICCID}")
    )

    assert sorted([first.status_code, second.status_code]) == [200, 429]
    refused = first if first.status_code == 429 else second
    assert refused.json()["errorCode"] == "40000029"
    assert (await cc.stats())["concurrency_refused"] == 1


async def test_max_in_flight_shows_concurrency_a_client_used(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID, "status": "ACTIVATED"})
    await cc.faults(latency_ms=300)

    await asyncio.gather(*(cc.call("GET", f"/devices/{ICCID}") for _ in range(3)))

    assert (await cc.stats())["max_in_flight"]["100020620"] == 3


async def test_gateway_errors_and_30000001_change_nothing(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID, "status": "ACTIVATED"})
    await cc.faults(error_rate=1)
    gateway = await cc.edit(ICCID, status="DEACTIVATED")
    await cc.faults(server_error_rate=1)
    server = await cc.edit(ICCID, status="DEACTIVATED")
    await cc.faults()

    assert gateway.status_code in (502, 503)
    assert (server.status_code, server.json()["errorCode"]) == (500, "30000001")
    assert (await cc.details(ICCID))["status"] == "ACTIVATED"
    assert (await cc.stats())["errors_5xx"] == 2


async def test_a_timed_out_call_is_not_applied(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID, "status": "ACTIVATED"})
    await cc.faults(timeout_rate=1, timeout_s=0.3)

    try:
        await cc.call("PUT", f"/devices/{ICCID}", json={"status": "DEACTIVATED"}, timeout=0.1)
        raise AssertionError("expected a client timeout")
    except httpx.ReadTimeout:
        pass
    await asyncio.sleep(0.35)
    await cc.faults()

    assert (await cc.details(ICCID))["status"] == "ACTIVATED"
    assert (await cc.stats())["timeouts"] == 1


async def test_accepted_202_is_applied(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID, "status": "ACTIVATED"})
    await cc.faults(accepted_rate=1)

    answer = await cc.edit(ICCID, ratePlan="M2M 5GB")

    assert answer.status_code == 202
    assert (await cc.details(ICCID))["ratePlan"] == "M2M 5GB"


async def test_late_application_answers_200_before_the_change_shows(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID, "status": "ACTIVATED"})
    await cc.faults(late_apply_s=1.0)

    answer = await cc.edit(ICCID, status="DEACTIVATED")
    before = await cc.details(ICCID)
    await asyncio.sleep(1.2)
    after = await cc.details(ICCID)

    assert answer.status_code == 200
    assert before["status"] == "ACTIVATED"
    assert after["status"] == "DEACTIVATED"
    assert (await cc.admin("GET", "/edits")).json()["edits"] == {ICCID: 1}
