"""The Control Center adapter's call loop: 40000029 backoff, a refused key held, confirmation."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from devicebulk_common.carriers import CredentialsRefusedError, ThrottledError
from devicebulk_common.carriers.jasper import wire
from devicebulk_common.carriers.jasper.config import JasperConfig
from devicebulk_common.carriers.jasper.confirm import audit_verdict

from .jasper_respx import DEVICE, DEVICE_PATH, ICCID, cc_error, jasper

THROTTLED = httpx.Response(400, json=cc_error("40000029", "Rate limit exceeded"))
OK = httpx.Response(200, json={"iccid": ICCID})


async def test_40000029_is_retried_with_growing_backoff_then_succeeds():
    async with jasper(throttle_retries=3, throttle_backoff_s=1.0) as cc:
        route = cc.router.put(DEVICE_PATH).mock(side_effect=[THROTTLED, THROTTLED, OK])
        accepted = await cc.adapter.set_status(DEVICE, "ACTIVATED")

    assert accepted.applied
    assert route.call_count == 3
    assert len(cc.sleeps) == 2
    assert 0.75 <= cc.sleeps[0] <= 1.25
    assert 1.5 <= cc.sleeps[1] <= 2.5


async def test_40000029_past_the_retries_is_throttled_for_the_caller():
    async with jasper(throttle_retries=2) as cc:
        route = cc.router.put(DEVICE_PATH).mock(return_value=THROTTLED)
        with pytest.raises(ThrottledError) as caught:
            await cc.adapter.set_status(DEVICE, "ACTIVATED")

    assert route.call_count == 3
    assert caught.value.counts_attempt is False
    assert caught.value.retryable is True


async def test_a_refused_key_is_not_tried_again_while_the_refusal_is_held():
    async with jasper() as cc:
        route = cc.router.get(DEVICE_PATH).mock(
            return_value=httpx.Response(401, json=cc_error("10000001", "Invalid credentials"))
        )
        with pytest.raises(CredentialsRefusedError):
            await cc.adapter.get_device(DEVICE)
        for _ in range(5):
            with pytest.raises(CredentialsRefusedError) as again:
                await cc.adapter.set_status(DEVICE, "ACTIVATED")

    assert route.call_count == 1
    assert again.value.retryable is False
    assert "refused this API key recently" in str(again.value)


async def test_a_refused_key_is_tried_again_once_the_hold_ends_not_later():
    async with jasper(refusal_hold_s=900) as cc:
        route = cc.router.get(DEVICE_PATH).mock(
            return_value=httpx.Response(401, json=cc_error("10000001", "Invalid credentials"))
        )
        with pytest.raises(CredentialsRefusedError):
            await cc.adapter.get_device(DEVICE)
        cc.clock.now += 800
        with pytest.raises(CredentialsRefusedError):
            await cc.adapter.get_device(DEVICE)  # held: not sent, and the hold is not extended
        cc.clock.now += 101
        with pytest.raises(CredentialsRefusedError):
            await cc.adapter.get_device(DEVICE)

    assert route.call_count == 2


def _row(field, value, status, when):
    return wire.AuditEntry(field, None, value, when, status, "api-user")


def test_audit_verdict_confirms_pends_and_refuses():
    config = JasperConfig()
    sent = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    later = sent + timedelta(minutes=1)
    fields = {"accountCustom1": "alice", "accountCustom2": "CC-1"}
    done = [
        _row("accountCustom1", "alice", "Executed", later),
        _row("accountCustom2", "CC-1", "Executed", later),
    ]
    half = [done[0], _row("accountCustom2", "CC-1", "Pending", later)]
    failed = [done[0], _row("accountCustom2", "CC-1", "Failed", later)]
    stale = [_row(f, v, "Executed", sent - timedelta(days=2)) for f, v in fields.items()]

    assert audit_verdict(done, fields, sent_at=sent, config=config)[0] == "confirmed"
    assert audit_verdict(half, fields, sent_at=sent, config=config) == (
        "pending",
        "accountCustom2: Pending",
    )
    assert audit_verdict(failed, fields, sent_at=sent, config=config)[0] == "refused"
    assert audit_verdict(stale, fields, sent_at=sent, config=config)[0] == "pending"


async def test_confirm_reads_back_and_falls_back_to_the_audit_trail():
    details = {"iccid": ICCID, "status": "ACTIVATED", "ratePlan": "M2M 1GB"}
    async with jasper() as cc:
        cc.router.put(DEVICE_PATH).mock(return_value=httpx.Response(202, json={"iccid": ICCID}))
        cc.router.get(DEVICE_PATH).mock(return_value=httpx.Response(200, json=details))
        trail = cc.router.get(f"{DEVICE_PATH}/auditTrails").mock(
            return_value=httpx.Response(200, json={"deviceAuditTrails": [], "lastPage": True})
        )
        activated = await cc.adapter.confirm(await cc.adapter.set_status(DEVICE, "ACTIVATED"))
        plan = await cc.adapter.confirm(await cc.adapter.change_rate_plan(DEVICE, "M2M 5GB"))

    assert (activated.state, activated.method) == ("confirmed", "read_back")
    assert trail.call_count == 1
    assert (plan.state, plan.method) == ("pending", "audit_trail")
    assert "the device shows ratePlan='M2M 1GB'" in plan.reason
    assert len(plan.exchanges) == 2
