"""Our own small hierarchy of carrier failures, and the mapping from HTTP to it.

    CarrierError
    ├── TransientCarrierError        5xx, timeouts, connection errors, UnexpectedError
    │   └── ThrottledError           429, with the Retry-After delay when given
    ├── PermanentCarrierError        INPUT_INVALID.*, REQUEST_FAILED.*, other 4xx
    │   └── CredentialsRefusedError  token fetch or session login refused: never retried
    └── AuthExpiredError             session or access token expired

Callers decide on `retryable`: True for transient failures and for an auth expiry that
survived the adapter's own single re-login, False for permanent ones. `counts_attempt` is
False for throttling and authentication trouble (they wait for budget or a new session and
do not use up a device's attempts). `outcome_unknown` is True when the request may have
reached the carrier and been carried out although no answer says so: our timeout after
sending, a connection lost after sending, a gateway 502/503/504 (whatever error code it
carries). Such an attempt is checked against the carrier before anything is sent again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Literal

import httpx

from .base import CarrierExchange

TokenKind = Literal["access", "session"]

SESSION_EXPIRED_SUFFIX = "SessionToken.Expired"
SESSION_TOKEN_MARK = "SessionToken."
ACCESS_TOKEN_INVALID_FAULT = "900901"
ACCESS_TOKEN_MISSING_FAULT = "900902"
ACCESS_TOKEN_FAULTS = frozenset({ACCESS_TOKEN_INVALID_FAULT, ACCESS_TOKEN_MISSING_FAULT})
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
    """The OAuth client or the API user was refused. Never retried: five refused logins in
    a row lock the ThingSpace user."""


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


def classify(code: str) -> type[CarrierError]:
    """The error class for a ThingSpace error code (`<Service>.<CLASS>.<Specific>`) or an
    API gateway fault code ("900901"). Unknown codes are permanent."""
    if code in ACCESS_TOKEN_FAULTS or SESSION_TOKEN_MARK in code:
        return AuthExpiredError
    if code.rsplit(".", 1)[-1] == "UnexpectedError":
        return TransientCarrierError
    return PermanentCarrierError


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


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from any of the carrier's error shapes, or ("", body excerpt)."""
    try:
        body: Any = json.loads(response.content or b"null")
    except ValueError:
        return "", response.text[:200]
    if isinstance(body, dict):
        if "errorCode" in body:
            return str(body["errorCode"]), str(body.get("errorMessage", ""))
        fault = body.get("fault")
        if isinstance(fault, dict):
            message = fault.get("message", "")
            if fault.get("description"):
                message = f"{message}: {fault['description']}"
            return str(fault.get("code", "")), str(message)
        if "error" in body:
            return str(body["error"]), str(body.get("error_description", ""))
    return "", response.text[:200]


def error_from_response(
    response: httpx.Response, exchange: CarrierExchange | None = None
) -> CarrierError:
    """The error for a carrier answer that is not 2xx."""
    status = response.status_code
    code, message = _error_fields(response)
    message = message or response.reason_phrase or f"HTTP {status}"
    common: dict[str, Any] = {"http_status": status, "exchange": exchange}
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return ThrottledError(message, code=code or "Throttled", retry_after=retry_after, **common)
    if status >= 500:
        error: CarrierError = TransientCarrierError(message, code=code or f"HTTP{status}", **common)
        error.outcome_unknown = status in GATEWAY_STATUSES
        return error
    if code in ACCESS_TOKEN_FAULTS:
        return AuthExpiredError(message, token="access", code=code, **common)
    if code:
        cls = classify(code)
        if cls is AuthExpiredError:
            return AuthExpiredError(message, token="session", code=code, **common)
        return cls(message, code=code, **common)
    if status == 408:
        return TransientCarrierError(message, code="HTTP408", **common)
    return PermanentCarrierError(message, code=f"HTTP{status}", **common)


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
