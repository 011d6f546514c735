from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from devicebulk_intake.app import create_app
from devicebulk_intake.settings import IntakeSettings


@pytest.fixture
async def api(database_url: str, credentials_key: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(IntakeSettings(database_url=database_url, intake_max_devices=1000))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client
