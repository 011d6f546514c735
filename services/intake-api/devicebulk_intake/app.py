from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import Counter, Histogram

from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.web import BodyGuard, health_router
from devicebulk_intake import errors
from devicebulk_intake.auth import caller as auth
from devicebulk_intake.bulk_changes.router import router as bulk_changes_router
from devicebulk_intake.bulk_changes.submit_router import router as submit_router
from devicebulk_intake.operator.router import router as operator_router
from devicebulk_intake.settings import IntakeSettings

REQUESTS = Counter("intake_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("intake_http_request_seconds", "HTTP request latency", ["method", "route"])

DESCRIPTION = """
Bulk changes on IoT device fleets on Verizon ThingSpace. Submit one change for up to 100,000
devices; follow its progress; read each device's result.

**Authentication:** every `/api/v1` call carries an OAuth 2.0 access token, a JWT, in
`Authorization: Bearer <token>`, issued by the identity provider this deployment trusts. The
token names the tenant (the tenant claim, `tenant_id` by default), the caller (`sub`, recorded
as the bulk change's creator and in the audit trail) and, optionally, `email` (where the
completion report goes; else the tenant's notification address). Scopes (`scope`, space
separated, or `scp`): `bulk-changes:read` for reading, `bulk-changes:write` to submit, upload
or dry-run, `bulk-changes:operate` to retry or cancel. No or a bad token is a `401`, a token
without the operation's scope a `403`; another tenant's bulk change is a `404`.

Errors are RFC 9457 problem documents (`application/problem+json`).
"""


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url, pool_size=settings.database_pool_size, application_name="intake"
        )
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        try:
            async with auth.open_keys(app, settings):
                yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="devicebulk intake API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.log = structlog.get_logger("devicebulk_intake")
    auth.install(app, settings)
    errors.install(app)
    errors.document_problems(app)
    app.include_router(health_router())
    app.include_router(submit_router)
    app.include_router(bulk_changes_router)
    app.include_router(operator_router)

    @app.middleware("http")
    async def observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        correlation_id = request.headers.get("X-Correlation-Id") or request.headers.get(
            "X-Request-Id"
        )
        start = time.perf_counter()
        with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
            response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        LATENCY.labels(request.method, path).observe(time.perf_counter() - start)
        return response

    # The one body guard (the kit's), added last so that it is the outermost middleware: a
    # body past the bound (declared or chunked) or too slow is answered 413/408 while it
    # streams, before anything inside reads it, whether the app runs under uvicorn
    # (`devicebulk-intake-api`) or is called directly (the tests' ASGITransport).
    app.add_middleware(
        BodyGuard,
        max_bytes=settings.body_limit,
        timeout_s=settings.intake_body_timeout_s,
        problem_base=errors.PROBLEM_BASE,
    )
    return app
