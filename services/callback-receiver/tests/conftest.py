from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from devicebulk_callbacks.app import create_app
from devicebulk_callbacks.settings import CallbackSettings
from devicebulk_common import contracts as c
from devicebulk_common.crypto import digest, encrypt_json
from devicebulk_common.models import BulkChange, DeviceChange, ServiceProvider


@pytest.fixture
async def receiver(database_url: str, credentials_key: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(CallbackSettings(database_url=database_url, callbacks_provider_cache_s=0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            yield client


@dataclass
class Scenario:
    provider: ServiceProvider
    bulk_id: uuid.UUID
    changes: list[DeviceChange]
    url: str


@pytest.fixture
async def scenario(factory, sessionmaker, credentials_key) -> Scenario:
    """A provider with a registered listener and an activation of three devices in flight."""
    tenant = await factory.tenant()
    provider = await factory.provider(
        callback_username="ts-callback",
        callback_password_encrypted=encrypt_json(credentials_key, {"password": "s3cret"}),
        callback_path_secret_sha256=digest("path-secret"),
    )
    devices = await factory.devices(tenant, provider, 3)
    bulk_id = uuid.uuid4()
    async with sessionmaker() as s, s.begin():
        s.add(
            BulkChange(
                id=bulk_id,
                tenant_id=tenant.id,
                service_provider_id=provider.id,
                change_type=3,
                status="PROCESSING",
                request={},
                device_count=3,
                remaining_count=3,
            )
        )
        await s.flush()
        changes = [
            DeviceChange(
                bulk_change_id=bulk_id,
                device_id=d.id,
                iccid=d.iccid,
                status=c.DeviceChangeStatus.PROCESSING.value,
                params={"op": "activate", "service_plan": "M2M_4G"},
            )
            for d in devices
        ]
        s.add_all(changes)
    return Scenario(provider, bulk_id, changes, f"/callbacks/thingspace/{provider.id}/path-secret")
