from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from intake_auth_helpers import Issuer, jwt_settings

from devicebulk_intake.app import create_app
from devicebulk_intake.settings import IntakeSettings


@pytest.fixture(autouse=True)
def dev_auth_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """The intake's tests name their tenant in X-Tenant-Id (AUTH_MODE=dev) unless they build
    a JWT-mode app themselves (the auth tests: ``auth_helpers``)."""
    monkeypatch.setenv("AUTH_MODE", "dev")


@pytest.fixture
async def api(database_url: str, credentials_key: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        IntakeSettings(database_url=database_url, intake_max_devices=1000, auth_mode="dev")
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[Issuer]:
    """A token issuer whose JWKS a real local HTTP server publishes (one RSA key to start)."""
    running = Issuer(tmp_path)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def jwt_app(
    database_url: str, credentials_key: str, issuer: Issuer
) -> AsyncIterator[FastAPI]:
    """The intake in its production mode (AUTH_MODE=jwt), trusting ``issuer``."""
    app = create_app(jwt_settings(database_url, issuer.jwks_url))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def jwt_api(jwt_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=jwt_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        yield client
