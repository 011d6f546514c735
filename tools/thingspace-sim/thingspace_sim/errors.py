"""The carrier's error shapes, raised as one exception type and rendered by one handler."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

SERVICE = "UnifiedWebService"


class SimError(Exception):
    """An answer other than success: HTTP status, JSON body and extra headers."""

    def __init__(
        self, status: int, body: Any, headers: dict[str, str] | None = None, kind: str = ""
    ) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.kind = kind


def ts_error(status: int, code: str, message: str, **kw: Any) -> SimError:
    """`{"errorCode": "UnifiedWebService.<CLASS>.<Specific>", "errorMessage"}`."""
    return SimError(status, {"errorCode": f"{SERVICE}.{code}", "errorMessage": message}, **kw)


def invalid(specific: str, message: str) -> SimError:
    return ts_error(400, f"INPUT_INVALID.{specific}", message)


def failed(specific: str, message: str) -> SimError:
    return ts_error(400, f"REQUEST_FAILED.{specific}", message)


def account_not_found(name: str | None) -> SimError:
    return failed("AccountNotFound", f"Account {name!r} was not found.")


def gateway_fault(code: str, message: str, description: str) -> SimError:
    """The API gateway's 401 shape (900901 invalid, 900902 missing credentials)."""
    body = {"fault": {"code": code, "message": message, "description": description}}
    return SimError(401, body, headers={"WWW-Authenticate": "Bearer"})


def oauth_error(status: int, error: str, description: str) -> SimError:
    return SimError(status, {"error": error, "error_description": description})


async def sim_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SimError)
    call = request.scope.get("sim.call")
    if call is not None and exc.kind:
        call.fault = exc.kind
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)
