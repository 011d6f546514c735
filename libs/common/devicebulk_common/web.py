"""Probes and metrics for the HTTP services (FastAPI; install devicebulk-common[web])."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from devicebulk_common.health import database_check


def health_router() -> APIRouter:
    """``/healthz`` (alive), ``/readyz`` (the app's ``state.engine`` answers), ``/metrics``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        try:
            await database_check(request.app.state.engine)()
        except Exception as exc:
            return JSONResponse({"status": "unready", "database": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready", "database": "ok"})

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
