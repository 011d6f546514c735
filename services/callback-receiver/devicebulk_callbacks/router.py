from __future__ import annotations

import json
import math
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from starlette.requests import ClientDisconnect

from devicebulk_callbacks.group_commit import StoreFailed, Unstorable
from devicebulk_callbacks.providers import AuthFailure
from devicebulk_common.callback_records import MalformedCallback
from devicebulk_common.carriers.callback_parsers import parser_for, receives_callbacks
from devicebulk_common.logging import bound

log = structlog.get_logger(__name__)
router = APIRouter(tags=["carrier callbacks"])

CALLBACKS = Counter("callbacks_received_total", "Carrier callbacks received", ["outcome"])
# Labelled only with ids of providers that have a listener (the credential snapshot's, bounded
# by what operators registered) and the fixed reasons of AuthFailure: never from the request.
AUTH_FAILED = Counter(
    "callbacks_auth_failed_total",
    "Callbacks refused for their credentials, per provider and reason",
    ["provider", "reason"],
)


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


# The deepest nesting a callback may have (ThingSpace's are four levels deep).
MAX_DEPTH = 32
# The largest provider id a path may name (``service_provider.id`` is an int4).
MAX_PROVIDER_ID = 2**31 - 1


class Unreadable(ValueError):
    """The body can never be stored or read; ``str()`` is a sentence of ours for the answer."""


def loads(raw: bytes) -> Any:
    """UTF-8 JSON as PostgreSQL's ``jsonb`` takes it, else :class:`Unreadable`: no NaN, no
    Infinity, no NUL character and no lone surrogate (which only ``\\u`` escapes can bring in),
    nested at most ``MAX_DEPTH`` deep."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("The body is not UTF-8.") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise Unreadable(f"The body is nested deeper than {MAX_DEPTH} levels.") from None
    except json.JSONDecodeError as exc:
        raise Unreadable(f"The body is not JSON (line {exc.lineno}, column {exc.colno}).") from None
    except ValueError:  # NaN, Infinity, 1e999, integers of more than 4,300 digits
        raise Unreadable("The body holds a number that cannot be stored.") from None
    _check(value, escapes="\\u" in text)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _check(value: Any, *, escapes: bool) -> None:
    """Depth first, without recursion: nesting within ``MAX_DEPTH``; strings (keys too) free of
    NUL and lone surrogates when the text had escapes (raw ones fail the UTF-8 decode)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if escapes and not _storable(item):
                raise Unreadable(
                    "The body holds a NUL character or a lone surrogate, which cannot be stored."
                )
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise Unreadable(f"The body is nested deeper than {MAX_DEPTH} levels.")
        children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def provider_id(segment: str) -> int | None:
    """The path's provider id if it can name a provider (ASCII digits, within int4), else None."""
    if not (segment.isascii() and segment.isdigit()) or len(segment) > 10:
        return None
    value = int(segment)
    return value if 0 < value <= MAX_PROVIDER_ID else None


_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}


def _documented(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _PROBLEM_SCHEMA}},
    }


# What ThingSpace sends (docs/thingspace.md); the body is read raw and checked by hand, so
# this only documents it.
_CALLBACK_SCHEMA = {
    "type": "object",
    "required": ["requestId", "deviceIds", "username", "password"],
    "properties": {
        "username": {"type": "string"},
        "password": {"type": "string"},
        "requestId": {"type": "string", "maxLength": 64},
        "deviceIds": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "kind": {"type": "string"}},
            },
        },
        "status": {"type": "string"},
        "deviceResponse": {"type": "object"},
        "faultResponse": {"type": "object"},
        "callbackCount": {"type": "integer"},
        "maxCallbackThreshold": {"type": "integer"},
    },
}


@router.post(
    "/callbacks/thingspace/{service_provider_id}/{path_secret}",
    summary="ThingSpace callback listener (register this URL with the carrier)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _CALLBACK_SCHEMA}},
        }
    },
    responses={
        400: _documented(
            "Not a callback of the provider's integration (the integration picks the parser; "
            "one without callbacks, such as Control Center, refuses every body), or one that "
            "can never be stored (not JSON, nested too deep, a NUL character or lone "
            "surrogate, a value too long): never worth resending"
        ),
        401: _documented(
            "The callback's credentials do not match the provider's, or are the ones a "
            "rotation replaced and their grace period is over"
        ),
        404: _documented("No listener at this address"),
        408: _documented("The body did not arrive in time"),
        413: _documented("The body is larger than the receiver takes"),
        503: _documented("The callback could not be stored now; the carrier sends it again"),
    },
)
async def thingspace_callback(
    service_provider_id: str, path_secret: str, request: Request
) -> JSONResponse:
    """``service_provider_id`` is the provider's id (a positive int4); anything else is 404,
    answered without database work."""
    provider = provider_id(service_provider_id)
    if provider is None:
        CALLBACKS.labels("unknown-listener").inc()
        return _not_found()
    try:
        creds = await request.app.state.credentials.get(provider)
    except Exception:  # the database is away (or the credentials unreadable): not the carrier's
        CALLBACKS.labels("not-stored").inc()
        log.warning("looking up callback credentials failed", provider=provider, exc_info=True)
        return _unavailable()
    if creds is None:
        CALLBACKS.labels("unknown-listener").inc()
        return _not_found()
    path_failure = creds.check_path(path_secret)
    if path_failure is AuthFailure.PATH_SECRET:
        _auth_failed(request, provider, path_failure)
        return _not_found()
    if path_failure is AuthFailure.EXPIRED:
        _auth_failed(request, provider, path_failure)
        return _expired()
    if not receives_callbacks(creds.integration):
        # Its results are synchronous (Control Center): nothing it could send is stored.
        CALLBACKS.labels("malformed").inc()
        log.warning("callback for an integration without callbacks", provider=provider)
        return _problem(
            400,
            "Malformed callback",
            f"Service provider {provider} is a {creds.integration} provider, which receives no "
            "callbacks (its results are confirmed by reading its devices back).",
        )
    try:
        raw = await request.body()
    except ClientDisconnect:  # gone, or cut off by the body guard (which answered already)
        CALLBACKS.labels("disconnected").inc()
        return _problem(400, "Incomplete", "The body did not arrive.")
    try:
        payload: Any = loads(raw)
        parsed = parser_for(creds.integration)(payload)
    except (Unreadable, MalformedCallback) as exc:  # sentences of ours, safe to answer
        CALLBACKS.labels("malformed").inc()
        log.warning("malformed callback", provider=provider, error=str(exc))
        return _problem(400, "Malformed callback", str(exc))
    body_failure = creds.check_body(parsed.username, parsed.password)
    if body_failure is not None:
        _auth_failed(request, provider, body_failure, parsed.request_id)
        if body_failure is AuthFailure.EXPIRED:
            return _expired()
        return _problem(401, "Unauthenticated", "The callback's credentials do not match.")
    with bound(carrier_request_id=parsed.request_id):
        try:
            stored = await request.app.state.intake.accept(provider, parsed, payload)
        except Unstorable:
            CALLBACKS.labels("malformed").inc()
            return _problem(
                400, "Malformed callback", "The database refuses a value of this callback."
            )
        except StoreFailed:
            CALLBACKS.labels("not-stored").inc()
            return _unavailable()
    CALLBACKS.labels("stored" if stored.first else "duplicate").inc()
    return JSONResponse({"status": "received", "duplicate": not stored.first})


def _auth_failed(
    request: Request, provider: int, reason: AuthFailure, request_id: str | None = None
) -> None:
    """Counted and logged without what was submitted: neither the credentials nor the path's
    secret (the request id is the carrier's, already bounded by the parser)."""
    outcome = "unknown-listener" if reason is AuthFailure.PATH_SECRET else "unauthenticated"
    CALLBACKS.labels(outcome).inc()
    AUTH_FAILED.labels(str(provider), reason.value).inc()
    client = request.client.host if request.client else None
    log.warning(
        "callback refused: credentials",
        provider=provider,
        reason=reason.value,
        client=client,
        carrier_request_id=request_id,
    )


def _expired() -> JSONResponse:
    return _problem(
        401,
        "Unauthenticated",
        "These callback credentials were replaced by a rotation and are no longer accepted.",
    )


def _not_found() -> JSONResponse:
    return _problem(404, "Not found", "No callback listener at this address.")


def _unavailable() -> JSONResponse:
    return _problem(503, "Not stored", "The callback could not be stored; send it again later.")
