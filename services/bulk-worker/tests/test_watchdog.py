"""Missing callbacks: overdue device changes are checked against the carrier's device list."""

from __future__ import annotations

from sqlalchemy import text
from worker_helpers import add_bulk_change

from devicebulk_common.models import Device, DeviceChange
from devicebulk_worker.watchdog import CallbackWatchdog


async def _overdue(sessionmaker, message, *, attempts: int = 1) -> None:
    async with sessionmaker() as s, s.begin():
        await s.execute(
            text(
                "UPDATE device_change SET status = 'AwaitingCallback', carrier_request_id = 'lost', "
                "attempts = :a, updated_at = now() - interval '1 hour' WHERE id = :id"
            ),
            {"id": message.device_change_id, "a": attempts},
        )


async def _change(sessionmaker, message):
    async with sessionmaker() as s:
        return await s.get(DeviceChange, message.device_change_id)


def _watchdog(sessionmaker, handler, max_attempts: int = 3) -> CallbackWatchdog:
    return CallbackWatchdog(
        sessionmaker,
        handler._adapters,
        handler,
        timeout_s=600,
        give_up_s=86_400,
        max_attempts=max_attempts,
    )


async def test_a_device_the_carrier_shows_active_is_recorded_done(
    handler, world, carrier, sessionmaker
):
    device = world.devices[0]
    (message,) = await add_bulk_change(sessionmaker, world, "activate", devices=[device])
    await _overdue(sessionmaker, message)
    await carrier.seed(
        [{"iccid": device.iccid, "state": "active", "servicePlan": "M2M_4G", "mdn": "7605550111"}]
    )
    assert await _watchdog(sessionmaker, handler).check_once() >= 1
    change = await _change(sessionmaker, message)
    assert change.status == "Success"
    async with sessionmaker() as s:
        assert (await s.get(Device, device.id)).mdn == "7605550111"


async def test_a_device_the_carrier_never_changed_is_sent_again(
    handler, world, carrier, sessionmaker
):
    (message,) = await add_bulk_change(sessionmaker, world, "activate", devices=world.devices[1:2])
    await _overdue(sessionmaker, message)
    await _watchdog(sessionmaker, handler).check_once()
    change = await _change(sessionmaker, message)
    assert change.status == "Queued" and change.published_at is None  # the relay sends it again


async def test_out_of_attempts_it_fails_with_a_named_reason(handler, world, carrier, sessionmaker):
    (message,) = await add_bulk_change(sessionmaker, world, "activate", devices=world.devices[2:3])
    await _overdue(sessionmaker, message, attempts=3)
    await _watchdog(sessionmaker, handler, max_attempts=3).check_once()
    change = await _change(sessionmaker, message)
    assert change.status == "Failed" and change.error_code == "CallbackMissing"
    assert "preactive" in change.error_message


async def test_a_callback_that_comes_while_the_carrier_is_asked_is_not_overridden(
    handler, world, carrier, sessionmaker
):
    """The carrier is asked with no transaction open; a callback that settles the device change
    meanwhile wins: the watchdog neither sends it again nor fails it."""
    from devicebulk_common import contracts as c
    from devicebulk_common.db.engine import unit_of_work
    from devicebulk_common.lifecycle import finish_device_change

    (message,) = await add_bulk_change(sessionmaker, world, "activate", devices=world.devices[:1])
    await _overdue(sessionmaker, message)

    class CallbackArrivesMeanwhile(CallbackWatchdog):
        async def _settle(self, job, view, attempts, age_s):
            assert view.verdict == "not-done"  # it would be sent again
            async with unit_of_work(sessionmaker) as s:  # ... but its callback comes first
                await finish_device_change(s, job.device_change_id, c.DeviceChangeStatus.SUCCESS)
            await super()._settle(job, view, attempts, age_s)

    watchdog = CallbackArrivesMeanwhile(
        sessionmaker, handler._adapters, handler, timeout_s=600, give_up_s=86_400, max_attempts=3
    )
    assert await watchdog.check_once() >= 1
    change = await _change(sessionmaker, message)
    assert change.status == "Success"
    async with sessionmaker() as s:
        steps = (
            await s.execute(
                text(
                    "SELECT count(*) FROM device_change_log WHERE device_change_id = :id "
                    "AND step = 'callback-timeout'"
                ),
                {"id": message.device_change_id},
            )
        ).scalar_one()
    assert steps == 0


LIST = "POST /api/m2m/v1/devices/actions/list"


async def test_300_overdue_devices_of_one_request_cost_a_handful_of_list_requests(
    handler, world, carrier, factory, sessionmaker
):
    """Callbacks that never came for a 300-device request: the watchdog lists the account once
    for them all (not once a device), and settles every one as the carrier shows it."""
    devices = await factory.devices(world.tenant, world.provider, 300, carrier_rate_plan="M2M_4G")
    await carrier.seed(
        [
            {"iccid": d.iccid, "imei": d.imei, "servicePlan": "M2M_4G"}
            | {"state": "active" if i % 2 else "preactive"}
            for i, d in enumerate(devices)
        ]
    )
    messages = await add_bulk_change(sessionmaker, world, "activate", devices=devices)
    for message in messages:
        await _overdue(sessionmaker, message)
    before = await carrier.calls(LIST)
    watchdog = _watchdog(sessionmaker, handler)
    while await watchdog.check_once():
        pass
    assert await carrier.calls(LIST) - before <= 3
    async with sessionmaker() as s:
        statuses = (
            await s.execute(
                text(
                    "SELECT status, count(*) FROM device_change WHERE bulk_change_id = "
                    "(SELECT bulk_change_id FROM device_change WHERE id = :id) GROUP BY status"
                ),
                {"id": messages[0].device_change_id},
            )
        ).all()
    assert dict(statuses) == {"Success": 150, "Queued": 150}  # shown active; sent again


async def test_a_failed_list_settles_nothing_and_the_pass_goes_on(
    handler, world, carrier, factory, sessionmaker
):
    """The carrier answers 5xx to one account's device list: its overdue devices are neither
    sent again nor failed, the other account's are settled in the same pass, and the failed
    ones are settled on a later pass once the list answers."""
    import uuid
    from types import SimpleNamespace

    from worker_helpers import credentials

    account = f"W-{uuid.uuid4().hex[:8]}"
    r = await carrier.http.post(
        "/_sim/accounts", json={"accountName": account, **credentials(account)}
    )
    r.raise_for_status()
    provider = await factory.provider(
        account_name=account, base_url=f"{carrier.url}/api", credentials=credentials(account)
    )
    (device,) = await factory.devices(world.tenant, provider, 1, carrier_rate_plan="M2M_4G")
    seed = {"iccid": device.iccid, "imei": device.imei, "state": "preactive"}
    (
        await carrier.http.post("/_sim/devices", json={"accountName": account, "devices": [seed]})
    ).raise_for_status()
    failing = SimpleNamespace(tenant=world.tenant, provider=provider, devices=[device])
    (broken,) = await add_bulk_change(sessionmaker, failing, "activate")
    (fine,) = await add_bulk_change(sessionmaker, world, "activate", devices=world.devices[:1])
    await _overdue(sessionmaker, fine)
    await _overdue(sessionmaker, broken)
    async with sessionmaker() as s, s.begin():  # the failing account's device is the oldest
        await s.execute(
            text("UPDATE device_change SET updated_at = now() - interval '2 hours' WHERE id = :id"),
            {"id": broken.device_change_id},
        )
    faults = f"/_sim/accounts/{account}/faults"
    (await carrier.http.put(faults, json={"error_rate": 1})).raise_for_status()

    watchdog = _watchdog(sessionmaker, handler)
    await watchdog.check_once()
    assert (await _change(sessionmaker, broken)).status == "AwaitingCallback"
    assert (await _change(sessionmaker, fine)).status == "Queued"  # the pass went on

    (await carrier.http.put(faults, json={})).raise_for_status()
    await _overdue(sessionmaker, broken)  # its lease ran out: a later pass
    await watchdog.check_once()
    assert (await _change(sessionmaker, broken)).status == "Queued"
