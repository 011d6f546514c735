from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from devicebulk_callbacks import intake, reconciler
from devicebulk_callbacks.providers import CredentialStore
from devicebulk_callbacks.router import router
from devicebulk_callbacks.settings import CallbackSettings
from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.web import BodyGuard

log = structlog.get_logger(__name__)


async def _sweeper(app: FastAPI, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await reconciler.sweep(app.state.sessionmaker, older_than_s=interval_s)
        except Exception:
            log.exception("callback sweep failed")


def create_app(settings: CallbackSettings | None = None) -> FastAPI:
    settings = settings or CallbackSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            application_name="callback-receiver",
        )
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.credentials = CredentialStore(
            app.state.sessionmaker,
            key=settings.credentials_key.get_secret_value(),
            ttl_s=settings.callbacks_provider_cache_s,
        )
        app.state.intake = intake.CallbackIntake(
            app.state.sessionmaker,
            batch_wait_s=settings.callbacks_batch_wait_s,
            batch_max=settings.callbacks_batch_max,
            reconcile_max=settings.callbacks_reconcile_batch_max,
            reconcile_wait_s=settings.callbacks_reconcile_wait_s,
        )
        app.state.intake.start()
        sweeper = asyncio.create_task(_sweeper(app, settings.callbacks_sweep_interval_s))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            # Every callback answered 2xx is stored; reconcile them before going.
            await app.state.intake.close()
            await engine.dispose()

    app = FastAPI(
        title="devicebulk callback receiver",
        version="1.0.0",
        description="Receives ThingSpace's asynchronous callbacks, stores each one, then "
        "reconciles its result into the device records.",
        lifespan=lifespan,
        # Nothing but the listener on the internet-facing port: the probes and metrics are on
        # the internal one (main.py), the schema is ``app.openapi()``.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(router)
    app.add_middleware(
        BodyGuard,
        max_bytes=settings.callbacks_max_body_bytes,
        timeout_s=settings.callbacks_body_timeout_s,
    )

    return app
