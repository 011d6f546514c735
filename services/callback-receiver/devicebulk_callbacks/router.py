from __future__ import annotations

import json
import math
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from devicebulk_callbacks.group_commit import StoreFailed
from devicebulk_common.callbacks import MalformedCallback, parse_thingspace
from devicebulk_common.logging import bound

log = structlog.get_logger(__name__)
router = APIRouter(tags=["carrier callbacks"])

CALLBACKS = Counter("callbacks_received_total", "Carrier callbacks received", ["outcome"])


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def loads(raw: bytes) -> Any:
    """UTF-8 JSON as PostgreSQL's ``jsonb`` takes it, else ``ValueError``: no NaN, no Infinity,
    no NUL character (which only the escape ``\\u0000`` can bring in)."""
    text = raw.decode("utf-8")
    value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    if "\\u0000" in text and _has_nul(value):
        raise ValueError("a NUL character (\\u0000) cannot be stored")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {literal[:40]}")
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


@router.post(
    "/callbacks/thingspace/{service_provider_id}/{path_secret}",
    summary="ThingSpace callback listener (register this URL with the carrier)",
    responses={
        400: {"description": "Not a ThingSpace callback (never retried by us)"},
        401: {"description": "The callback's credentials do not match the provider's"},
        404: {"description": "No listener at this address"},
        503: {"description": "The callback could not be stored; the carrier sends it again"},
    },
)
async def thingspace_callback(
    service_provider_id: int, path_secret: str, request: Request
) -> JSONResponse:
    creds = await request.app.state.credentials.get(service_provider_id)
    if creds is None or not creds.path_ok(path_secret):
        CALLBACKS.labels("unknown-listener").inc()
        return _problem(404, "Not found", "No callback listener at this address.")
    raw = await request.body()
    try:
        payload: Any = loads(raw)
        parsed = parse_thingspace(payload)
    except (ValueError, MalformedCallback) as exc:
        CALLBACKS.labels("malformed").inc()
        log.warning("malformed callback", provider=service_provider_id, error=str(exc))
        return _problem(400, "Malformed callback", str(exc))
    if not creds.body_ok(parsed.username, parsed.password):
        CALLBACKS.labels("unauthenticated").inc()
        log.warning("callback with wrong credentials", provider=service_provider_id)
        return _problem(401, "Unauthenticated", "The callback's credentials do not match.")
    with bound(carrier_request_id=parsed.request_id):
        try:
            stored = await request.app.state.intake.accept(service_provider_id, parsed, payload)
        except StoreFailed:
            CALLBACKS.labels("not-stored").inc()
            return _problem(
                503, "Not stored", "The callback could not be stored; send it again later."
            )
    CALLBACKS.labels("stored" if stored.first else "duplicate").inc()
    return JSONResponse({"status": "received", "duplicate": not stored.first})
