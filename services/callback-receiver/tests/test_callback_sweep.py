"""Callbacks bound to their provider, and the sweeper: callbacks of requests never recorded,
callbacks made moot, a request that fails to reconcile, and callbacks it gives up on."""

from __future__ import annotations

import uuid

import pytest
from callback_helpers import activation_callback, record_request
from sqlalchemy import func, select, update

from devicebulk_callbacks import reconciler
from devicebulk_common.crypto import digest, encrypt_json
from devicebulk_common.models import (
    BulkChange,
    CarrierCallback,
    Device,
    DeviceChange,
    DeviceChangeLog,
)


async def _change(sessionmaker, change_id: int) -> DeviceChange:
    async with sessionmaker() as s:
        return await s.get(DeviceChange, change_id)


async def _device(sessionmaker, device_id: int) -> Device:
    async with sessionmaker() as s:
        return await s.get(Device, device_id)


async def _stored(sessionmaker, request_id: str) -> list[CarrierCallback]:
    async with sessionmaker() as s:
        rows = await s.scalars(
            select(CarrierCallback)
            .where(CarrierCallback.request_id == request_id)
            .order_by(CarrierCallback.id)
        )
        return list(rows)


async def _audit_count(sessionmaker, change_id: int) -> int:
    async with sessionmaker() as s:
        return await s.scalar(
            select(func.count())
            .select_from(DeviceChangeLog)
            .where(DeviceChangeLog.device_change_id == change_id)
        )


async def _set(sessionmaker, change: DeviceChange, **values) -> None:
    async with sessionmaker() as s, s.begin():
        await s.execute(update(DeviceChange).where(DeviceChange.id == change.id).values(**values))


def _failure(iccid: str, request_id: str, **kw) -> dict:
    body = activation_callback(iccid, request_id, status="Failed", **kw)
    body.pop("deviceResponse")
    body["faultResponse"] = {"faultcode": "Carrier.Refused", "faultstring": "refused"}
    return body


@pytest.fixture
async def other_url(factory, credentials_key) -> str:
    """The listener of a second provider, with credentials of its own."""
    provider = await factory.provider(
        callback_username="ts-other",
        callback_password_encrypted=encrypt_json(credentials_key, {"password": "other-s3cret"}),
        callback_path_secret_sha256=digest("other-path"),
    )
    return f"/callbacks/thingspace/{provider.id}/other-path"


OTHER_CREDENTIALS = {"username": "ts-other", "password": "other-s3cret"}


async def test_another_providers_callbacks_change_nothing_and_the_genuine_one_still_applies(
    receiver, scenario, other_url, sessionmaker
):
    recorded, early = scenario.changes[0], scenario.changes[1]
    await record_request(sessionmaker, recorded, "req-a")
    # Provider B's valid callbacks name A's request ids and ICCIDs: a failure, and a success
    # with a number of B's choosing (the same callback as A's genuine one, to its dedupe key).
    for dc, rid in ((recorded, "req-a"), (early, "req-a-early")):
        for body in (
            _failure(dc.iccid, rid, **OTHER_CREDENTIALS),
            activation_callback(dc.iccid, rid, mdn="9005550199", **OTHER_CREDENTIALS),
        ):
            assert (await receiver.post(other_url, json=body)).status_code == 200
    await record_request(sessionmaker, early, "req-a-early")  # the worker, after B's callbacks
    for _ in range(3):
        await reconciler.sweep(sessionmaker, older_than_s=0, max_tries=3)

    for dc in (recorded, early):
        assert (await _change(sessionmaker, dc.id)).status == "AwaitingCallback"
        device = await _device(sessionmaker, dc.device_id)
        assert device.status == "preactive" and device.mdn is None and device.msisdn is None
        assert await _audit_count(sessionmaker, dc.id) == 0
    spoofed = await _stored(sessionmaker, "req-a")
    assert len(spoofed) == 2 and all(cb.device_change_id is None for cb in spoofed)
    assert all(cb.outcome.startswith("gave up after 3 tries: no device change") for cb in spoofed)

    # A's genuine callbacks, identical to one of B's, are A's own and reconcile.
    for dc, rid in ((recorded, "req-a"), (early, "req-a-early")):
        answer = await receiver.post(scenario.url, json=activation_callback(dc.iccid, rid))
        assert answer.status_code == 200 and answer.json()["duplicate"] is False
        assert (await _change(sessionmaker, dc.id)).status == "Success"
        device = await _device(sessionmaker, dc.device_id)
        assert device.status == "active" and device.mdn == "8585550100"


async def test_a_success_of_a_request_never_recorded_finds_its_open_attempt(
    receiver, scenario, sessionmaker
):
    # The carrier took the activation but its answer was lost: no request id on the change.
    dc = scenario.changes[0]
    rid = f"lost-{uuid.uuid4()}"
    assert (
        await receiver.post(scenario.url, json=activation_callback(dc.iccid, rid))
    ).status_code == 200
    assert (await _change(sessionmaker, dc.id)).status == "Processing"  # no request id: waits

    assert await reconciler.sweep(sessionmaker, older_than_s=0) == 1
    change = await _change(sessionmaker, dc.id)
    assert change.status == "Success" and change.carrier_request_id == rid
    device = await _device(sessionmaker, dc.device_id)
    assert device.status == "active" and device.msisdn == "18585550100"
    (stored,) = await _stored(sessionmaker, rid)
    assert stored.device_change_id == dc.id and stored.processed_at is not None
    assert "request id not recorded" in stored.outcome


async def test_a_success_of_another_operation_or_a_failure_in_flight_is_not_applied(
    receiver, scenario, sessionmaker
):
    processing, awaiting, other_op = scenario.changes
    await _set(sessionmaker, awaiting, status="AwaitingCallback")  # carrier showed it pending
    await _set(sessionmaker, other_op, params={"op": "suspend"})
    fail_p, fail_a, wrong = (f"{n}-{uuid.uuid4()}" for n in ("p", "a", "w"))
    for body in (
        _failure(processing.iccid, fail_p),  # its own attempt may still be in flight
        _failure(awaiting.iccid, fail_a),  # no other attempt will be sent: this is the outcome
        activation_callback(other_op.iccid, wrong),  # confirms an activation, not the suspend
    ):
        assert (await receiver.post(scenario.url, json=body)).status_code == 200
    await reconciler.sweep(sessionmaker, older_than_s=0)

    assert (await _change(sessionmaker, processing.id)).status == "Processing"
    assert (await _change(sessionmaker, other_op.id)).status == "Processing"
    failed = await _change(sessionmaker, awaiting.id)
    assert failed.status == "Failed" and failed.error_code == "Carrier.Refused"
    for rid in (fail_p, wrong):
        (stored,) = await _stored(sessionmaker, rid)
        assert stored.processed_at is None and stored.reconcile_tries == 1


async def test_a_callback_made_moot_by_a_resume_is_recorded_reconciled_with_the_reason(
    receiver, scenario, sessionmaker
):
    # A resume read the carrier's device state and settled the change; its callback comes later.
    dc = scenario.changes[0]
    await _set(sessionmaker, dc, status="Success")
    rid = f"settled-{uuid.uuid4()}"
    assert (await receiver.post(scenario.url, json=_failure(dc.iccid, rid))).status_code == 200
    await reconciler.sweep(sessionmaker, older_than_s=0)
    (stored,) = await _stored(sessionmaker, rid)
    assert stored.processed_at is not None and stored.device_change_id == dc.id
    assert stored.outcome.startswith("moot:") and "already ended Success" in stored.outcome
    assert (await _change(sessionmaker, dc.id)).status == "Success"
    assert await _audit_count(sessionmaker, dc.id) == 0


async def test_one_request_that_fails_does_not_stop_the_pass_and_is_given_up_after_its_tries(
    receiver, scenario, sessionmaker, monkeypatch
):
    bad, good = scenario.changes[0], scenario.changes[1]
    await record_request(sessionmaker, bad, "req-poison")
    await record_request(sessionmaker, good, "req-fine")
    real = reconciler.reconcile_swept

    async def poisoned(session, callback_ids):
        if (await session.get(CarrierCallback, callback_ids[0])).request_id == "req-poison":
            raise RuntimeError("cannot apply")
        return await real(session, callback_ids)

    monkeypatch.setattr(reconciler, "reconcile_callbacks", _never)  # the receiver's path fails
    monkeypatch.setattr(reconciler, "reconcile_swept", poisoned)
    for dc, rid in ((bad, "req-poison"), (good, "req-fine")):
        assert (
            await receiver.post(scenario.url, json=activation_callback(dc.iccid, rid))
        ).status_code == 200
    # The poisoned request is swept first (lower id) and fails; the other still reconciles.
    assert await reconciler.sweep(sessionmaker, older_than_s=0, max_tries=2) == 1
    assert (await _change(sessionmaker, good.id)).status == "Success"
    (stored,) = await _stored(sessionmaker, "req-poison")
    assert stored.processed_at is None and stored.reconcile_tries == 1

    await reconciler.sweep(sessionmaker, older_than_s=0, max_tries=2)
    (stored,) = await _stored(sessionmaker, "req-poison")
    assert stored.processed_at is not None
    assert (
        stored.outcome == "gave up after 2 tries: reconciling failed: RuntimeError('cannot apply')"
    )
    await reconciler.sweep(sessionmaker, older_than_s=0, max_tries=2)  # not swept again
    assert (await _stored(sessionmaker, "req-poison"))[0].reconcile_tries == 2
    async with sessionmaker() as s:
        bulk = await s.get(BulkChange, scenario.bulk_id)
    assert bulk.remaining_count == 2


async def _never(session, callback_ids):
    raise RuntimeError("the receiver's reconciliation is down")


async def test_an_unrecorded_success_applies_only_to_the_step_it_confirms(
    receiver, scenario, sessionmaker
):
    dc = scenario.changes[0]
    await _set(
        sessionmaker, dc, params={"op": "edit_username", "username": "pump-7", "cost_center": "C1"}
    )
    ahead, step = f"cc-{uuid.uuid4()}", f"cf-{uuid.uuid4()}"
    for rid, key in ((ahead, "costCenterResponse"), (step, "customFieldsUpdateResponse")):
        body = activation_callback(dc.iccid, rid)
        body["deviceResponse"] = {key: {}}
        assert (await receiver.post(scenario.url, json=body)).status_code == 200
    await reconciler.sweep(sessionmaker, older_than_s=0)
    change = await _change(sessionmaker, dc.id)
    assert change.status == "Queued" and change.params["phase"] == "cost_center"
    assert (await _device(sessionmaker, dc.device_id)).username == "pump-7"
    (early,) = await _stored(sessionmaker, ahead)  # the cost center's step had not been sent
    assert early.processed_at is None
