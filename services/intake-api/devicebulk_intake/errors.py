"""RFC 9457 problem details: one base exception carrying its status, one renderer."""

from __future__ import annotations

import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)

PROBLEM_BASE = "https://devicebulk.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class ProblemError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


REALM = "devicebulk"
_CHALLENGE_TEXT = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")  # RFC 6750 §3: no " or \


class Unauthenticated(ProblemError):
    """No credentials. RFC 6750 §3: the challenge names the scheme and realm, no error code."""

    status, slug, title = 401, "unauthenticated", "Authentication required"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.headers = {"WWW-Authenticate": f'Bearer realm="{REALM}"'}


class InvalidToken(Unauthenticated):
    """A bearer token that is malformed, expired, not ours, or badly signed."""

    slug, title = "invalid-token", "Invalid token"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        description = _CHALLENGE_TEXT.sub("?", detail)[:200]
        self.headers = {
            "WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token", '
            f'error_description="{description}"'
        }


class InsufficientScope(ProblemError):
    """A valid token that does not grant the scope the operation needs (``RequiredScope``)."""

    status, slug, title = 403, "insufficient-scope", "Insufficient scope"

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"This operation needs the scope {scope}; the token does not grant it.",
            RequiredScope=scope,
        )
        self.headers = {
            "WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", '
            f'scope="{scope}"'
        }


class AuthUnavailable(ProblemError):
    """The issuer's keys (JWKS) cannot be fetched, so no token can be checked: try again."""

    status, slug, title = 503, "authentication-unavailable", "Authentication unavailable"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class Unprocessable(ProblemError):
    status, slug, title = 422, "unprocessable", "The request cannot be processed"


class UnsupportedChangeType(ProblemError):
    status, slug, title = 422, "unsupported-change-type", "Change type not supported"


class TooManyRequests(ProblemError):
    """A per-tenant limit (submits a minute, devices in flight); ``Retry-After`` says when."""

    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, RetryAfter=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


class PayloadTooLarge(ProblemError):
    status, slug, title = 413, "too-many-devices", "Too many devices"


def problem_response(
    status: int, slug: str, title: str, detail: str | None, request: Request, **extra: Any
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        instance=str(request.url.path),
        **extra,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=MEDIA_TYPE
    )


def responses(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route, so every problem it can answer shows in the OpenAPI."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        out[err.status] = {
            "model": Problem,
            "description": err.title,
            "content": {MEDIA_TYPE: {}},
        }
        if err.status == 429:
            out[err.status]["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before submitting again.",
                    "schema": {"type": "integer"},
                }
            }
    return out


MAX_ERRORS_LISTED = 100
MAX_ECHO = 200  # characters of a field's value echoed back in a 422


def echo(value: object) -> str | int | float | bool | None:
    """A scalar input value fit to echo: at most ``MAX_ECHO`` characters, malformed Unicode
    escaped. Objects and lists are not echoed (a missing field's input is its whole parent)."""
    if isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**MAX_ECHO else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cut = value[:MAX_ECHO] + ("…" if len(value) > MAX_ECHO else "")
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def _error_entry(error: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "loc": [part if isinstance(part, int) else echo(part) for part in error.get("loc", ())],
        "msg": echo(error.get("msg")),
        "type": error.get("type"),
    }
    shown = echo(error.get("input"))
    if shown is not None:
        entry["input"] = shown
    return entry


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        answer = problem_response(exc.status, exc.slug, exc.title, exc.detail, request, **exc.extra)
        answer.headers.update(exc.headers)
        return answer

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_error_entry(e) for e in exc.errors()[:MAX_ERRORS_LISTED]]
        return problem_response(
            422,
            "invalid-request",
            "Invalid request",
            "The request body or parameters are invalid; see errors.",
            request,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:  # the same problem type as the body guard's 413
            return problem_response(
                413, "body-too-large", "Request body too large", str(exc.detail), request
            )
        return problem_response(
            exc.status_code, f"http-{exc.status_code}", str(exc.detail), None, request
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path)
        return problem_response(
            500, "internal", "Internal error", "Something went wrong on our side.", request
        )


# ---- the operator's views (devicebulk_intake.operator) ------------------------------------------


class InvalidCursor(Unprocessable):
    status, slug, title = 422, "invalid-cursor", "Invalid cursor"


class InvalidState(ProblemError):
    """The bulk change's state does not allow the action (retry, cancel); ``type`` says why."""

    status, slug, title = 409, "invalid-state", "Not possible in the bulk change's state"


class NotFinished(InvalidState):
    slug, title = "bulk-change-not-finished", "The bulk change has not finished"


class NoFailedDevices(InvalidState):
    slug, title = "no-failed-devices", "The bulk change has no failed devices"


class AlreadyFinished(InvalidState):
    slug, title = "bulk-change-finished", "The bulk change has already finished"


# ---- every change type: idempotent submits and CSV uploads (devicebulk_intake.bulk_changes) ----


class IdempotencyKeyReused(ProblemError):
    """The ``Idempotency-Key`` was used before, by this tenant, with another request."""

    status, slug, title = 409, "idempotency-key-reused", "Idempotency key used for another request"


class UnsupportedMediaType(ProblemError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class InvalidCsv(ProblemError):
    """A CSV upload with rows that cannot be read; ``errors`` lists them by line number."""

    status, slug, title = 422, "invalid-csv", "Invalid CSV"


# ---- the OpenAPI: every problem under application/problem+json --------------------------------

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_ALWAYS = {
    "400": "Malformed request (the body is not JSON, or nested too deeply)",
    "408": "Request body too slow (`body-too-slow`: not all there `INTAKE_BODY_TIMEOUT_S` after "
    "the request began)",
    "413": "Request body too large (`body-too-large`)",
    "422": "Invalid request (`invalid-request`, with `errors`)",
    "401": "No bearer token (`unauthenticated`), or one that is refused (`invalid-token`: "
    "malformed, expired, not yet valid, another issuer or audience, an unknown key, a refused "
    "algorithm, an unknown tenant); `WWW-Authenticate` says which",
    "403": "The token does not grant the scope this operation needs (`insufficient-scope`, "
    "naming it in `RequiredScope`)",
    "503": "The token issuer's keys cannot be fetched right now "
    "(`authentication-unavailable`, with `Retry-After`)",
}


def document_problems(app: FastAPI) -> None:
    """Rewrite the generated OpenAPI so that every 4xx and 5xx answer is documented as what
    it is: an RFC 9457 problem under ``application/problem+json`` (FastAPI's own 422 says
    ``application/json``), and every route that reads a body or parameters documents the
    malformed-body 400, the body guard's 408 and 413, and the 422, and every route that needs
    a bearer token its 401, 403 and 503."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("Problem", Problem.model_json_schema())
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                answers = operation.setdefault("responses", {})
                reads = "requestBody" in operation or operation.get("parameters")
                if operation.get("security"):
                    for status in ("401", "403", "503"):
                        answers.setdefault(status, {"description": _ALWAYS[status]})
                if "requestBody" in operation:
                    for status in ("400", "408", "413"):
                        answers.setdefault(status, {"description": _ALWAYS[status]})
                if reads:
                    answers.setdefault("422", {"description": _ALWAYS["422"]})
                for status, answer in answers.items():
                    if str(status)[0] in "45":
                        answer["content"] = {MEDIA_TYPE: {"schema": _PROBLEM_REF}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
