import asyncio
import time

from sim_helpers import ACCOUNT, TS, dev

ACTIVATE = {"servicePlan": "M2M_4G", "mdnZipCode": "94105"}


async def test_failed_delivery_is_retried_with_rising_callback_count(ts: TS) -> None:
    await ts.seed_devices({"iccid": "41", "state": "preactive"})
    ts.listener.answers.extend([500])

    answer = await ts.call(
        "POST", "/devices/actions/activate", json={**ACTIVATE, "devices": [dev("41")]}
    )
    callbacks = await ts.listener.wait_for(2, requestId=answer.json()["requestId"])

    assert [c["callbackCount"] for c in callbacks] == [1, 2]
    assert callbacks[0]["deviceResponse"] == callbacks[1]["deviceResponse"]
    stats = (await ts.admin("GET", "/stats")).json()
    assert (stats["callbacks_failed"], stats["callbacks_sent"]) == (1, 1)


async def test_delivery_gives_up_after_three_retries(ts: TS) -> None:
    await ts.seed_devices({"iccid": "42", "state": "active", "servicePlan": "P"})
    ts.listener.answers.extend([503] * 10)

    answer = await ts.call("POST", "/devices/actions/suspend", json={"devices": [dev("42")]})
    callbacks = await ts.listener.wait_for(4, requestId=answer.json()["requestId"])
    await asyncio.sleep(0.15)

    assert [c["callbackCount"] for c in callbacks] == [1, 2, 3, 4]
    assert (await ts.admin("GET", "/stats")).json()["callbacks_gave_up"] == 1


async def test_no_listener_drops_callbacks_but_still_changes_state(ts: TS) -> None:
    await ts.seed_devices({"iccid": "43", "state": "active", "servicePlan": "P"})
    await ts.call("DELETE", f"/callbacks/{ACCOUNT}/name/CarrierService")

    await ts.call("POST", "/devices/actions/suspend", json={"devices": [dev("43")]})
    await asyncio.sleep(0.1)

    assert (await ts.device("43"))["state"] == "suspend"
    assert (await ts.admin("GET", "/stats")).json()["callbacks_dropped"] == 1
    assert ts.listener.received == []


async def test_a_dropped_callback_never_comes_but_the_action_is_carried_out(ts: TS) -> None:
    await ts.seed_devices({"iccid": "45", "state": "active", "servicePlan": "P"})
    await ts.faults(callback_drop_rate=1)

    await ts.call("POST", "/devices/actions/suspend", json={"devices": [dev("45")]})
    for _ in range(50):
        if (await ts.device("45"))["state"] == "suspend":
            break
        await asyncio.sleep(0.02)

    assert (await ts.device("45"))["state"] == "suspend"
    assert (await ts.admin("GET", "/stats")).json()["callbacks_dropped"] == 1
    assert ts.listener.received == []


async def test_spread_callbacks_trickle_in_over_the_spread(ts: TS) -> None:
    iccids = [str(460 + n) for n in range(5)]
    await ts.seed_devices(*({"iccid": i, "state": "active", "servicePlan": "P"} for i in iccids))
    await ts.faults(callback_spread_s=1.0)

    answer = await ts.call(
        "POST", "/devices/actions/suspend", json={"devices": [dev(i) for i in iccids]}
    )
    await ts.listener.wait_for(1, requestId=answer.json()["requestId"])
    states = [(await ts.device(i))["state"] for i in iccids]

    assert states.count("suspend") < len(iccids)  # the later ones are still to come
    assert len(await ts.listener.wait_for(5, requestId=answer.json()["requestId"])) == 5


async def test_callback_before_answer_arrives_before_the_request_id(ts: TS) -> None:
    await ts.seed_devices({"iccid": "44", "state": "active", "servicePlan": "P"})
    await ts.faults(callback_before_answer=True)

    answer = await ts.call("POST", "/devices/actions/suspend", json={"devices": [dev("44")]})

    assert [c["requestId"] for c in ts.listener.received] == [answer.json()["requestId"]]


async def test_duplicate_and_out_of_order_callbacks(ts: TS) -> None:
    iccids = [str(500 + n) for n in range(20)]
    await ts.seed_devices(*({"iccid": i, "state": "active", "servicePlan": "P"} for i in iccids))
    await ts.faults(callback_duplicate_rate=1, callback_out_of_order=True)
    await ts.admin("PATCH", "/config", json={"callback_delay": 0})

    answer = await ts.call(
        "POST", "/devices/actions/suspend", json={"devices": [dev(i) for i in iccids]}
    )
    callbacks = await ts.listener.wait_for(40, requestId=answer.json()["requestId"])

    seen = [c["deviceIds"][0]["id"] for c in callbacks]
    assert sorted(seen) == sorted(iccids * 2)
    produced = (await ts.admin("GET", f"/callbacks?request_id={answer.json()['requestId']}")).json()
    order = list(dict.fromkeys(c["deviceIds"][0]["id"] for c in produced["callbacks"]))
    assert order != iccids


async def test_large_activation_delivers_every_callback_quickly(ts: TS) -> None:
    iccids = [f"89148{n:015d}" for n in range(400)]
    await ts.seed_devices(*({"iccid": i, "state": "preactive"} for i in iccids))
    started = time.monotonic()

    answer = await ts.call(
        "POST", "/devices/actions/activate", json={**ACTIVATE, "devices": [dev(i) for i in iccids]}
    )
    callbacks = await ts.listener.wait_for(400, timeout=10, requestId=answer.json()["requestId"])

    assert time.monotonic() - started < 5
    assert {c["status"] for c in callbacks} == {"Success"}
    mdns = {c["deviceResponse"]["activateResponse"]["deviceIds"][1]["id"] for c in callbacks}
    assert len(mdns) == 400
