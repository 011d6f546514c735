"""Control Center's error shape `{"errorMessage", "errorCode"}`, raised as one exception type
and rendered by one handler."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

# The HTTP status of each code family (1000xxxx: 400; 10000001: 401; 20000001: 404; 3000000x: 500).
STATUS_BY_CODE = {"10000001": 401, "20000001": 404, "30000001": 500, "30000002": 500}


class SimError(Exception):
    """An answer other than success: HTTP status, JSON body, extra headers, fault kind."""

    def __init__(
        self, status: int, body: Any, headers: dict[str, str] | None = None, kind: str = ""
    ) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.kind = kind


def jasper_error(code: str, message: str, *, status: int | None = None, kind: str = "") -> SimError:
    status = status or STATUS_BY_CODE.get(code, 400)
    return SimError(status, {"errorMessage": message, "errorCode": code}, kind=kind)


async def sim_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SimError)
    call = request.scope.get("sim.call")
    if call is not None:
        if exc.kind:
            call.fault = exc.kind
        if isinstance(exc.body, dict):
            call.error_code = exc.body.get("errorCode")
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)
