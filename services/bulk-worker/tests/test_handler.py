"""The bulk worker's device-change handler: carrier calls, outcomes, redelivery."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select
from worker_helpers import add_bulk_change

from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.models import Device, DeviceChange, DeviceChangeLog


async def _change(sessionmaker, message):
    async with sessionmaker() as s:
        return await s.get(DeviceChange, message.device_change_id)


async def test_activation_is_sent_and_awaits_its_callback(handler, world, carrier, sessionmaker):
    (message, *_) = await add_bulk_change(sessionmaker, world, "activate")
    await handler(message)
    change = await _change(sessionmaker, message)
    assert (
        change.status == "AwaitingCallback" and change.carrier_request_id and change.attempts == 1
    )
    async with sessionmaker() as s:
        logs = (
            await s.scalars(
                select(DeviceChangeLog)
                .where(DeviceChangeLog.device_change_id == change.id)
                .order_by(DeviceChangeLog.id)
            )
        ).all()
    assert [entry.step for entry in logs] == ["attempt", "carrier:activate"]
    call = logs[1]
    assert call.http_status == 200 and call.http_url.endswith("/devices/actions/activate")
    assert '"servicePlan":"M2M_4G"' in call.request_text.replace(" ", "")
    assert "wp-secret" not in call.request_text and change.carrier_request_id in call.response_text


async def test_redelivered_message_after_the_call_was_recorded_does_not_call_again(
    handler, world, carrier, sessionmaker
):
    (message, *_) = await add_bulk_change(sessionmaker, world, "activate")
    before = await carrier.calls("POST /api/m2m/v1/devices/actions/activate")
    await handler(message)
    await handler(message)  # the same message, delivered again
    await asyncio.gather(handler(message), handler(message))
    assert await carrier.calls("POST /api/m2m/v1/devices/actions/activate") == before + 1
    assert (await _change(sessionmaker, message)).attempts == 1


async def test_interrupted_attempt_is_checked_against_the_carrier_before_repeating(
    handler, world, carrier, sessionmaker
):
    device = world.devices[0]
    # The first attempt reached the carrier (the device is active there, with its MDN) but the
    # process died before recording it: the change is still Processing.
    await carrier.seed(
        [
            {
                "iccid": device.iccid,
                "imei": device.imei,
                "state": "active",
                "servicePlan": "M2M_4G",
                "mdn": "6195550142",
            }
        ]
    )
    (message,) = await add_bulk_change(
        sessionmaker, world, "activate", devices=[device], status="Processing"
    )
    before = await carrier.calls("POST /api/m2m/v1/devices/actions/activate")
    await handler(message)
    assert await carrier.calls("POST /api/m2m/v1/devices/actions/activate") == before
    change = await _change(sessionmaker, message)
    assert change.status == "Success"
    async with sessionmaker() as s:
        stored = await s.get(Device, device.id)
        steps = (
            await s.scalars(
                select(DeviceChangeLog.step).where(DeviceChangeLog.device_change_id == change.id)
            )
        ).all()
    assert stored.status == "active" and stored.mdn == "6195550142"
    assert "resume-check" in steps


async def test_interrupted_attempt_that_never_reached_the_carrier_is_sent(
    handler, world, carrier, sessionmaker
):
    (message,) = await add_bulk_change(
        sessionmaker, world, "activate", devices=world.devices[:1], status="Processing"
    )
    before = await carrier.calls("POST /api/m2m/v1/devices/actions/activate")
    await handler(message)
    assert await carrier.calls("POST /api/m2m/v1/devices/actions/activate") == before + 1
    assert (await _change(sessionmaker, message)).status == "AwaitingCallback"


async def test_refused_credentials_fail_the_device_with_a_named_reason(
    factory, carrier, handler, sessionmaker, world
):
    bad = await factory.provider(
        account_name=carrier.account,
        base_url=f"{carrier.url}/api",
        credentials={
            "client_key": "wk",
            "client_secret": "wrong",
            "username": "wu",
            "password": "wp-secret",
        },
    )
    world.provider = bad
    (message,) = await add_bulk_change(sessionmaker, world, "suspend", devices=world.devices[:1])
    await handler(message)
    change = await _change(sessionmaker, message)
    assert change.status == "Failed" and change.error_code and change.error_message
    assert "wrong" not in (change.error_message or "")


@pytest.mark.parametrize("with_billing", [True, False, None])
async def test_a_suspension_sends_the_portals_with_billing_choice(
    handler, world, sessionmaker, with_billing
):
    (message,) = await add_bulk_change(
        sessionmaker,
        world,
        "suspend",
        devices=world.devices[:1],
        params={"with_billing": with_billing},
    )
    await handler(message)

    assert (await _change(sessionmaker, message)).status == "AwaitingCallback"
    async with sessionmaker() as s:
        sent = await s.scalar(
            select(DeviceChangeLog.request_text).where(
                DeviceChangeLog.device_change_id == message.device_change_id,
                DeviceChangeLog.request_text.is_not(None),
            )
        )
    body = json.loads(sent)
    if with_billing is None:
        assert "withBilling" not in body  # the carrier's default
    else:
        assert body["withBilling"] is with_billing


async def test_add_to_inventory_answers_synchronously(
    handler, world, carrier, sessionmaker, factory
):
    (fresh,) = await factory.devices(
        world.tenant, world.provider, 1, status=DeviceStatus.NOT_PROVISIONED
    )
    (message,) = await add_bulk_change(sessionmaker, world, "add", devices=[fresh])
    await handler(message)
    change = await _change(sessionmaker, message)
    assert change.status == "Success"
    async with sessionmaker() as s:
        assert (await s.get(Device, fresh.id)).status == "preactive"
    assert (await carrier.http.get(f"/_sim/devices/{fresh.iccid}")).json()["state"] == "preactive"
