"""Our own small hierarchy of carrier failures, and the mapping from HTTP to it.

    CarrierError
    ├── TransientCarrierError        5xx, timeouts, connection errors, UnexpectedError
    │   └── ThrottledError           429, with the Retry-After delay when given
    ├── PermanentCarrierError        the carrier's refusals, other 4xx
    │   └── CredentialsRefusedError  token fetch or session login refused: never retried
    └── AuthExpiredError             session or access token expired

Callers decide on `retryable`: True for transient failures and for an auth expiry that
survived the adapter's own single re-login, False for permanent ones. `counts_attempt` is
False for throttling and authentication trouble (they wait for budget or a new session and
do not use up a device's attempts). `outcome_unknown` is True when the request may have
reached the carrier and been carried out although no answer says so: our timeout after
sending, a connection lost after sending, a gateway 502/503/504 (whatever error code it
carries). Such an attempt is checked against the carrier before anything is sent again.
`about_device` is True for a refusal of a whole request that is about one of its devices (the
worker then splits the request to find it).

This module knows no carrier: the HTTP status decides here (:func:`error_from_status`); each
adapter classifies its own error codes on top of it (ThingSpace: `thingspace_errors.py`,
Control Center: `jasper/wire.py`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Literal

import httpx

from .base import CarrierExchange
from .redaction import redact_text

TokenKind = Literal["access", "session"]

# Gateway answers: the gateway may have passed the request on before giving up on it.
GATEWAY_STATUSES = frozenset({502, 503, 504})


class CarrierError(Exception):
    retryable: ClassVar[bool] = False
    counts_attempt: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        http_status: int | None = None,
        exchange: CarrierExchange | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.exchange = exchange
        self.outcome_unknown = False
        self.about_device = False

    def __str__(self) -> str:
        status = f" (HTTP {self.http_status})" if self.http_status is not None else ""
        return f"{self.code or type(self).__name__}: {self.message}{status}"


class TransientCarrierError(CarrierError):
    """Worth retrying later: the carrier or the network failed, not the request."""

    retryable = True


class ThrottledError(TransientCarrierError):
    """HTTP 429. `retry_after` is the carrier's requested delay in seconds, if it gave one."""

    counts_attempt = False

    def __init__(
        self,
        message: str,
        *,
        code: str = "Throttled",
        http_status: int | None = 429,
        exchange: CarrierExchange | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status, exchange=exchange)
        self.retry_after = retry_after


class PermanentCarrierError(CarrierError):
    """Retrying the same request will fail the same way."""


class CredentialsRefusedError(PermanentCarrierError):
    """The carrier refused our credentials (a login, an API key). Never retried: a carrier may
    lock the user after a few refused logins."""


class AuthExpiredError(CarrierError):
    """A token expired. The adapter re-authenticates once by itself; this escapes only
    when the retry failed the same way."""

    retryable = True
    counts_attempt = False

    def __init__(
        self,
        message: str,
        *,
        token: TokenKind,
        code: str = "",
        http_status: int | None = None,
        exchange: CarrierExchange | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status, exchange=exchange)
        self.token: TokenKind = token


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_fields(response: httpx.Response) -> tuple[str, str, Any]:
    """(code, message, decoded body) from the common error shapes (``errorCode`` and
    ``errorMessage``; OAuth's ``error`` and ``error_description``), else ("", excerpt, body)."""
    try:
        body: Any = json.loads(response.content or b"null")
    except ValueError:
        return "", response.text[:200], None
    if isinstance(body, dict):
        if "errorCode" in body:
            return str(body["errorCode"]), str(body.get("errorMessage", "")), body
        if "error" in body:
            return str(body["error"]), str(body.get("error_description", "")), body
    return "", response.text[:200], body


def error_from_status(
    response: httpx.Response,
    exchange: CarrierExchange | None = None,
    *,
    code: str | None = None,
    message: str | None = None,
) -> CarrierError:
    """The error for a carrier answer that is not 2xx, by its HTTP status alone (the code, when
    the answer names one, is kept for the adapter to classify)."""
    status = response.status_code
    if code is None or message is None:
        found_code, found_message, _ = error_fields(response)
        code = found_code if code is None else code
        message = found_message if message is None else message
    # The carrier's message ends in audit rows, the device change and the email: a carrier
    # that echoes a credential there must not leak it (as the exchange's texts do not).
    message = redact_text(message or response.reason_phrase or f"HTTP {status}")
    common: dict[str, Any] = {"http_status": status, "exchange": exchange}
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return ThrottledError(message, code=code or "Throttled", retry_after=retry_after, **common)
    if status >= 500:
        error: CarrierError = TransientCarrierError(message, code=code or f"HTTP{status}", **common)
        error.outcome_unknown = status in GATEWAY_STATUSES
        return error
    if status == 408:
        return TransientCarrierError(message, code=code or "HTTP408", **common)
    return PermanentCarrierError(message, code=code or f"HTTP{status}", **common)


# Failures that happen before a byte of the request left: the carrier cannot have acted.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def error_from_exception(
    exc: httpx.HTTPError, exchange: CarrierExchange | None = None
) -> CarrierError:
    """The error for an httpx failure without an answer (timeouts, connection errors)."""
    if isinstance(exc, httpx.TimeoutException):
        code = "Timeout"
    elif isinstance(exc, httpx.TransportError):
        code = "TransportError"
    else:
        code = "HTTPError"
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    error = TransientCarrierError(message, code=code, exchange=exchange)
    error.outcome_unknown = not isinstance(exc, NOT_SENT)
    return error
