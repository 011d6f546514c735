from datetime import UTC, datetime

import httpx
import pytest

from devicebulk_common.carriers import (
    AuthExpiredError,
    CarrierError,
    PermanentCarrierError,
    ThrottledError,
    TransientCarrierError,
    classify,
    parse_retry_after,
)

from .helpers import DEVICE, thingspace

SUSPEND = "/m2m/v1/devices/actions/suspend"


def _error(code: str) -> dict[str, str]:
    return {"errorCode": code, "errorMessage": "it went wrong"}


@pytest.mark.parametrize(
    ("answer", "expected", "code"),
    [
        (httpx.Response(500), TransientCarrierError, "HTTP500"),
        (httpx.Response(503, text="<html>down</html>"), TransientCarrierError, "HTTP503"),
        (
            httpx.Response(502, json=_error("UnifiedWebService.REQUEST_FAILED.UnexpectedError")),
            TransientCarrierError,
            "UnifiedWebService.REQUEST_FAILED.UnexpectedError",
        ),
        (
            httpx.Response(400, json=_error("UnifiedWebService.REQUEST_FAILED.UnexpectedError")),
            TransientCarrierError,
            "UnifiedWebService.REQUEST_FAILED.UnexpectedError",
        ),
        (
            httpx.Response(400, json=_error("UnifiedWebService.INPUT_INVALID.Device.Identifier")),
            PermanentCarrierError,
            "UnifiedWebService.INPUT_INVALID.Device.Identifier",
        ),
        (
            httpx.Response(400, json=_error("UnifiedWebService.REQUEST_FAILED.DeviceNotFound")),
            PermanentCarrierError,
            "UnifiedWebService.REQUEST_FAILED.DeviceNotFound",
        ),
        (httpx.Response(404), PermanentCarrierError, "HTTP404"),
        (httpx.Response(408), TransientCarrierError, "HTTP408"),
    ],
)
async def test_carrier_answers_map_to_our_errors(answer, expected, code):
    async with thingspace() as ts:
        ts.router.post(SUSPEND).mock(return_value=answer)
        with pytest.raises(CarrierError) as caught:
            await ts.adapter.suspend([DEVICE])

    assert type(caught.value) is expected
    assert caught.value.code == code
    assert caught.value.http_status == answer.status_code
    assert caught.value.retryable is issubclass(expected, TransientCarrierError)
    assert caught.value.exchange is not None
    assert caught.value.exchange.status_code == answer.status_code


async def test_429_with_retry_after_is_throttled_with_the_delay():
    async with thingspace() as ts:
        ts.router.post(SUSPEND).mock(return_value=httpx.Response(429, headers={"Retry-After": "7"}))
        with pytest.raises(ThrottledError) as caught:
            await ts.adapter.suspend([DEVICE])

    assert caught.value.retry_after == 7.0
    assert caught.value.retryable


async def test_429_without_retry_after_is_throttled_without_a_delay():
    async with thingspace() as ts:
        ts.router.post(SUSPEND).mock(return_value=httpx.Response(429))
        with pytest.raises(ThrottledError) as caught:
            await ts.adapter.suspend([DEVICE])

    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("failure", "code", "unknown"),
    [
        (httpx.ReadTimeout("read timed out"), "Timeout", True),
        (httpx.ConnectTimeout("connect timed out"), "Timeout", False),
        (httpx.ConnectError("refused"), "TransportError", False),
        (httpx.RemoteProtocolError("peer closed"), "TransportError", True),
    ],
)
async def test_timeouts_and_connection_errors_are_transient(failure, code, unknown):
    async with thingspace() as ts:
        ts.router.post(SUSPEND).mock(side_effect=failure)
        with pytest.raises(TransientCarrierError) as caught:
            await ts.adapter.suspend([DEVICE])

    assert caught.value.code == code
    # Sent and then lost (the carrier may have acted) or never sent at all:
    assert caught.value.outcome_unknown is unknown
    assert caught.value.exchange is not None
    assert caught.value.exchange.status_code is None
    assert '"kind":"iccid"' in caught.value.exchange.request_body


async def test_token_fetch_timeout_is_transient_not_a_refusal():
    async with thingspace() as ts:
        ts.token_route.side_effect = httpx.ReadTimeout("slow")
        with pytest.raises(TransientCarrierError):
            await ts.adapter.suspend([DEVICE])


async def test_non_json_success_answer_is_a_malformed_response():
    async with thingspace() as ts:
        ts.router.post(SUSPEND).mock(return_value=httpx.Response(200, text="<html>ok</html>"))
        with pytest.raises(PermanentCarrierError) as caught:
            await ts.adapter.suspend([DEVICE])

    assert caught.value.code == "MalformedResponse"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("UnifiedWebService.REQUEST_FAILED.SessionToken.Expired", AuthExpiredError),
        ("900901", AuthExpiredError),
        ("UnifiedWebService.REQUEST_FAILED.UnexpectedError", TransientCarrierError),
        ("UnifiedWebService.INPUT_INVALID.CustomField.TooLong", PermanentCarrierError),
        ("UnifiedWebService.INPUT_INVALID.SessionToken.Invalid", AuthExpiredError),
        ("UnifiedWebService.REQUEST_FAILED.SessionToken.Format", AuthExpiredError),
        ("900902", AuthExpiredError),
        ("UnifiedWebService.REQUEST_FAILED.DeviceAlreadyActive", PermanentCarrierError),
        ("UnifiedWebService.REQUEST_FAILED.MaxRequestsExceeded", PermanentCarrierError),
        ("Something.Unknown", PermanentCarrierError),
    ],
)
def test_classify(code, expected):
    assert classify(code) is expected


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "unknown"), [(502, True), (503, True), (504, True), (500, False)]
)
async def test_a_gateway_answer_leaves_the_outcome_unknown_whatever_its_error_code(status, unknown):
    """A gateway 504 after the carrier acted carries the carrier's UnexpectedError code."""
    answer = httpx.Response(status, json=_error("UnifiedWebService.REQUEST_FAILED.UnexpectedError"))
    async with thingspace() as ts:
        ts.router.post(SUSPEND).mock(return_value=answer)
        with pytest.raises(TransientCarrierError) as caught:
            await ts.adapter.suspend([DEVICE])

    assert caught.value.outcome_unknown is unknown
    assert caught.value.counts_attempt


def test_throttling_and_authentication_errors_use_up_no_attempt():
    assert not ThrottledError("slow down").counts_attempt
    assert not AuthExpiredError("expired", token="session").counts_attempt
    assert TransientCarrierError("5xx").counts_attempt
