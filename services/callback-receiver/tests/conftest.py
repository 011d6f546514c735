from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from devicebulk_callbacks.app import create_app
from devicebulk_callbacks.settings import CallbackSettings
from devicebulk_common import contracts as c
from devicebulk_common.crypto import digest, encrypt_json
from devicebulk_common.models import DeviceChange, ServiceProvider


@pytest.fixture
async def receiver_app(database_url: str, credentials_key: str) -> AsyncIterator[FastAPI]:
    app = create_app(CallbackSettings(database_url=database_url, callbacks_provider_cache_s=0))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def receiver(receiver_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the receiver that, after each answer, waits until the receiver has
    reconciled in the background what it stored, so a test sees the result."""

    async def settled(response: httpx.Response) -> None:
        await receiver_app.state.intake.settled()

    transport = httpx.ASGITransport(app=receiver_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://receiver", event_hooks={"response": [settled]}
    ) as client:
        yield client


@dataclass
class Scenario:
    provider: ServiceProvider
    bulk_id: uuid.UUID
    changes: list[DeviceChange]
    url: str


async def _scenario(factory, sessionmaker, credentials_key, n: int) -> Scenario:
    tenant = await factory.tenant()
    provider = await factory.provider(
        callback_username="ts-callback",
        callback_password_encrypted=encrypt_json(credentials_key, {"password": "s3cret"}),
        callback_path_secret_sha256=digest("path-secret"),
    )
    devices = await factory.devices(tenant, provider, n)
    bulk_id, changes = await factory.bulk_change(
        tenant, provider, devices, status=c.DeviceChangeStatus.PROCESSING.value
    )
    return Scenario(provider, bulk_id, changes, f"/callbacks/thingspace/{provider.id}/path-secret")


@pytest.fixture
async def scenario(factory, sessionmaker, credentials_key) -> Scenario:
    """A provider with a registered listener and an activation of three devices in flight."""
    return await _scenario(factory, sessionmaker, credentials_key, 3)


@pytest.fixture
async def many(factory, sessionmaker, credentials_key) -> Scenario:
    """The same with forty devices."""
    return await _scenario(factory, sessionmaker, credentials_key, 40)
