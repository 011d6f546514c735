from __future__ import annotations

import json
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from devicebulk_callbacks import intake
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


@router.post(
    "/callbacks/thingspace/{service_provider_id}/{path_secret}",
    summary="ThingSpace callback listener (register this URL with the carrier)",
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
        payload: Any = json.loads(raw)
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
        first = await intake.accept(
            request.app.state.sessionmaker, service_provider_id, parsed, payload
        )
    CALLBACKS.labels("stored" if first else "duplicate").inc()
    return JSONResponse({"status": "received", "duplicate": not first})
