"""The Control Center wire mapping: error codes into our hierarchy, bodies, dates, answers."""

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import structlog

from devicebulk_common.carriers import (
    CarrierError,
    CredentialsRefusedError,
    PermanentCarrierError,
    ThrottledError,
    TransientCarrierError,
)
from devicebulk_common.carriers.jasper import wire

from .jasper_respx import API_KEY, DEVICE, DEVICE_PATH, ICCID, USERNAME, cc_error, jasper


@pytest.mark.parametrize(
    ("answer", "expected", "code", "outcome_unknown"),
    [
        (
            httpx.Response(401, json=cc_error("10000001")),
            CredentialsRefusedError,
            "10000001",
            False,
        ),
        (
            httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="Jasper"'}),
            CredentialsRefusedError,
            "HTTP401",
            False,
        ),
        (httpx.Response(400, json=cc_error("40000029")), ThrottledError, "40000029", False),
        (httpx.Response(429, json=cc_error("40000029")), ThrottledError, "40000029", False),
        (httpx.Response(403, json=cc_error("40000029")), ThrottledError, "40000029", False),
        (httpx.Response(500, json=cc_error("30000001")), TransientCarrierError, "30000001", True),
        (httpx.Response(500, json=cc_error("30000002")), TransientCarrierError, "30000002", True),
        (httpx.Response(503, text="<html>down</html>"), TransientCarrierError, "HTTP503", True),
        (httpx.Response(500), TransientCarrierError, "HTTP500", False),
        (httpx.Response(400, json=cc_error("10000013")), PermanentCarrierError, "10000013", False),
        (httpx.Response(400, json=cc_error("10000029")), PermanentCarrierError, "10000029", False),
        (httpx.Response(404, json=cc_error("20000001")), PermanentCarrierError, "20000001", False),
        (httpx.Response(400, json=cc_error("10000030")), PermanentCarrierError, "10000030", False),
    ],
)
async def test_control_center_answers_map_to_our_errors(answer, expected, code, outcome_unknown):
    async with jasper(throttle_retries=0) as cc:
        cc.router.put(DEVICE_PATH).mock(return_value=answer)
        with pytest.raises(CarrierError) as caught:
            await cc.adapter.set_status(DEVICE, "ACTIVATED")

    assert type(caught.value) is expected
    assert caught.value.code == code
    assert caught.value.outcome_unknown is outcome_unknown
    assert caught.value.exchange is not None
    assert caught.value.retryable is (expected in (ThrottledError, TransientCarrierError))


async def test_a_timeout_is_transient_with_an_unknown_outcome():
    async with jasper() as cc:
        cc.router.put(DEVICE_PATH).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(TransientCarrierError) as caught:
            await cc.adapter.set_status(DEVICE, "ACTIVATED")

    assert caught.value.outcome_unknown is True


async def test_edit_sends_basic_auth_and_the_configured_username_fields():
    async with jasper(username_field="accountCustom4", cost_center_field="accountCustom5") as cc:
        route = cc.router.put(DEVICE_PATH).mock(
            return_value=httpx.Response(200, json={"iccid": ICCID})
        )
        accepted = await cc.adapter.set_username(DEVICE, "alice", None)

    request = route.calls[0].request
    expected = base64.b64encode(f"{USERNAME}:{API_KEY}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert json.loads(request.content) == {"accountCustom4": "alice", "accountCustom5": ""}
    assert accepted.applied is True
    assert accepted.as_sync_result().all_ok


@pytest.mark.parametrize(
    ("style", "expected", "read_as"),
    [
        ("datetime", "2030-01-02T03:04:05+00:00", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("date", "2030-01-02Z", datetime(2030, 1, 2, tzinfo=UTC)),
    ],
)
async def test_effective_date_is_sent_in_the_configured_style(style, expected, read_as):
    when = datetime(2030, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    async with jasper(effective_date_style=style) as cc:
        route = cc.router.put(DEVICE_PATH).mock(
            return_value=httpx.Response(202, json={"iccid": ICCID})
        )
        accepted = await cc.adapter.change_rate_plan(DEVICE, "M2M 5GB", effective_at=when)

    assert json.loads(route.calls[0].request.content) == {
        "ratePlan": "M2M 5GB",
        "effectiveDate": expected,
    }
    # The change is due when the carrier reads it, not a fraction later.
    assert (accepted.applied, accepted.effective_at) == (False, read_as)


async def test_202_is_accepted_but_not_taken_as_applied():
    async with jasper() as cc:
        cc.router.put(DEVICE_PATH).mock(return_value=httpx.Response(202, json={"iccid": ICCID}))
        accepted = await cc.adapter.set_status(DEVICE, "DEACTIVATED")

    assert accepted.applied is False
    assert accepted.effective_at is None


async def test_already_in_that_status_is_accepted_for_a_read_back():
    async with jasper() as cc:
        cc.router.put(DEVICE_PATH).mock(return_value=httpx.Response(400, json=cc_error("10030000")))
        accepted = await cc.adapter.set_status(DEVICE, "ACTIVATED")

    assert accepted.applied is False
    assert accepted.exchange.status_code == 400


async def test_bad_arguments_are_refused_before_anything_is_sent():
    async with jasper() as cc:
        route = cc.router.put(DEVICE_PATH)
        with pytest.raises(ValueError):
            await cc.adapter.set_status(DEVICE, "SUSPENDED")
        with pytest.raises(ValueError):
            await cc.adapter.edit(DEVICE, {"imei": "1"})
        with pytest.raises(ValueError):
            await cc.adapter.edit(DEVICE, {})

    assert not route.called


async def test_the_api_key_and_basic_header_reach_no_exchange_and_no_log():
    basic = base64.b64encode(f"{USERNAME}:{API_KEY}".encode()).decode()
    echo = cc_error("10000013", f"bad plan for key {API_KEY} (Authorization: Basic {basic})")
    async with jasper() as cc:
        cc.router.put(DEVICE_PATH).mock(return_value=httpx.Response(400, json=echo))
        with (
            structlog.testing.capture_logs() as logs,
            pytest.raises(PermanentCarrierError) as caught,
        ):
            await cc.adapter.change_rate_plan(DEVICE, "nope")

    exchange = caught.value.exchange
    assert exchange is not None
    recorded = " ".join([exchange.request_body, exchange.response_body, exchange.url, repr(logs)])
    assert API_KEY not in recorded
    assert basic not in recorded
    assert "***" in exchange.response_body


def test_answer_dates_of_every_shape_are_read():
    assert wire.parse_answer_date("2016-06-29 00:21:33.339+0000") == datetime(
        2016, 6, 29, 0, 21, 33, 339000, tzinfo=UTC
    )
    assert wire.parse_answer_date("2016-06-29 02:21:33.339+0200") == datetime(
        2016, 6, 29, 0, 21, 33, 339000, tzinfo=UTC
    )
    assert wire.parse_answer_date("2016-11-10Z") == datetime(2016, 11, 10, tzinfo=UTC)
    assert wire.parse_answer_date("2016-04-18T17:31:34+00:00") == datetime(
        2016, 4, 18, 17, 31, 34, tzinfo=UTC
    )
    assert wire.parse_answer_date("") is None
    assert wire.parse_answer_date("yesterday") is None
    with pytest.raises(ValueError):
        wire.request_datetime(datetime(2030, 1, 1))  # no time zone


def test_device_details_become_a_neutral_device():
    device = wire.parse_device(
        {
            "iccid": ICCID,
            "imei": "",
            "msisdn": "15551234567",
            "status": "ACTIVATED",
            "ratePlan": "M2M 1GB",
            "communicationPlan": "CP Basic",
            "customer": "",
            "accountCustom1": "alice",
            "accountCustom2": "",
            "dateActivated": "2026-11-30 10:00:00.000+0000",
        }
    )

    assert device.iccid == ICCID
    assert device.ids == {"iccid": ICCID, "msisdn": "15551234567"}
    assert (device.state, device.service_plan) == ("ACTIVATED", "M2M 1GB")
    assert device.custom_fields == {"accountCustom1": "alice", "communicationPlan": "CP Basic"}
    assert device.last_activation == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert wire.device_value(device, "accountCustom2") is None


async def test_search_devices_pages_until_the_last_page():
    async with jasper(page_size=2) as cc:
        pages = [
            {
                "devices": [{"iccid": "8901000000000000001", "status": "ACTIVATED"}] * 2,
                "pageNumber": 1,
                "lastPage": False,
            },
            {
                "devices": [{"iccid": "8901000000000000003", "status": "DEACTIVATED"}],
                "pageNumber": 2,
                "lastPage": True,
            },
        ]
        route = cc.router.get("/devices").mock(
            side_effect=[httpx.Response(200, json=p) for p in pages]
        )
        since = datetime(2026, 12, 1, tzinfo=UTC)
        found = [d async for d in cc.adapter.search_devices(since)]

    assert [d.state for d in found] == ["ACTIVATED", "ACTIVATED", "DEACTIVATED"]
    params = [dict(call.request.url.params) for call in route.calls]
    assert params[0] == {
        "modifiedSince": "2026-12-01T00:00:00+00:00",
        "pageSize": "2",
        "pageNumber": "1",
    }
    assert params[1]["pageNumber"] == "2"


async def test_inventory_sync_searches_in_bounded_windows_when_configured():
    start = (datetime.now(UTC) - timedelta(days=500)).isoformat()
    async with jasper(inventory_since=start, search_window_days=365) as cc:
        route = cc.router.get("/devices").mock(
            return_value=httpx.Response(
                200, json={"devices": [], "pageNumber": 1, "lastPage": True}
            )
        )
        found = [d async for d in cc.adapter.list_devices()]

    assert found == []
    windows = [dict(call.request.url.params) for call in route.calls]
    assert len(windows) == 2
    assert windows[0]["modifiedTill"] == windows[1]["modifiedSince"]
