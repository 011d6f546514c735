"""ThingSpace's error codes, classified into our hierarchy (`errors.py`).

ThingSpace codes read `<Service>.<CLASS>.<Specific>`; the API gateway answers faults with
numeric codes ("900901"). A session-token error means the session expired (one new login);
an access-token fault a new token; `*.UnexpectedError` is transient; the rest are permanent.
A refusal naming a device (`.Device...`, `DeviceNotFound`) is `about_device`.
"""

from __future__ import annotations

from typing import Any

import httpx

from .base import CarrierExchange
from .errors import (
    AuthExpiredError,
    CarrierError,
    PermanentCarrierError,
    TransientCarrierError,
    error_fields,
    error_from_status,
)

SESSION_EXPIRED_SUFFIX = "SessionToken.Expired"
SESSION_TOKEN_MARK = "SessionToken."
ACCESS_TOKEN_INVALID_FAULT = "900901"
ACCESS_TOKEN_MISSING_FAULT = "900902"
ACCESS_TOKEN_FAULTS = frozenset({ACCESS_TOKEN_INVALID_FAULT, ACCESS_TOKEN_MISSING_FAULT})


def classify(code: str) -> type[CarrierError]:
    """The error class for a ThingSpace error code (`<Service>.<CLASS>.<Specific>`) or an
    API gateway fault code ("900901"). Unknown codes are permanent."""
    if code in ACCESS_TOKEN_FAULTS or SESSION_TOKEN_MARK in code:
        return AuthExpiredError
    if code.rsplit(".", 1)[-1] == "UnexpectedError":
        return TransientCarrierError
    return PermanentCarrierError


def names_a_device(code: str) -> bool:
    return ".Device" in code or "DeviceNotFound" in code


def _fields(response: httpx.Response) -> tuple[str, str]:
    code, message, body = error_fields(response)
    if not code and isinstance(body, dict):
        fault = body.get("fault")
        if isinstance(fault, dict):
            message = fault.get("message", "")
            if fault.get("description"):
                message = f"{message}: {fault['description']}"
            return str(fault.get("code", "")), str(message)
    return code, message


def error_from_response(
    response: httpx.Response, exchange: CarrierExchange | None = None
) -> CarrierError:
    """The error for a ThingSpace answer that is not 2xx."""
    status = response.status_code
    code, message = _fields(response)
    if status == 429 or status >= 500 or not code:
        return error_from_status(response, exchange, code=code, message=message)
    message = message or response.reason_phrase or f"HTTP {status}"
    common: dict[str, Any] = {"http_status": status, "exchange": exchange}
    if code in ACCESS_TOKEN_FAULTS:
        return AuthExpiredError(message, token="access", code=code, **common)
    cls = classify(code)
    if cls is AuthExpiredError:
        return AuthExpiredError(message, token="session", code=code, **common)
    error = cls(message, code=code, **common)
    error.about_device = not error.retryable and names_a_device(code)
    return error
