"""Request bodies are bounded while they stream in: a body past the bound (chunked or with a
Content-Length) is a 413 problem, and the intake stops reading it there."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from intake_helpers import SUBMIT, headers, table_counts

from devicebulk_intake.app import create_app
from devicebulk_intake.settings import IntakeSettings

PROBLEM = "application/problem+json"
CHUNK = b" " * 65_536
CHUNKS = 1_600  # 100 MiB in all; the test app's bounds are well under 1 MiB


class Endless:
    """A chunked body of 100 MiB that counts how much of it the server asked for."""

    def __init__(self, start: bytes) -> None:
        self.start = start
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.start
        for _ in range(CHUNKS):
            self.sent += 1
            yield CHUNK


@pytest.fixture
async def fleet(factory):
    return await factory.tenant(), await factory.provider()


async def test_a_chunked_json_body_past_the_bound_is_413_and_not_read_whole(
    api, sessionmaker, fleet
):
    tenant, provider = fleet
    before = await table_counts(sessionmaker)
    body = Endless(json.dumps({"ServiceProviderId": provider.id, "ChangeType": 5})[:-1].encode())
    answer = await api.post(
        SUBMIT, content=body, headers=headers(tenant, **{"Content-Type": "application/json"})
    )
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["type"].endswith("/body-too-large")
    assert body.sent < 20  # stopped near the bound (1000 devices' worth), not at 100 MiB
    assert await table_counts(sessionmaker) == before


async def test_a_declared_length_past_the_bound_is_413_before_reading(api, fleet):
    tenant, provider = fleet
    big = json.dumps({"ServiceProviderId": provider.id, "ChangeType": 5, "Devices": ["1" * 40]})
    answer = await api.post(
        SUBMIT,
        content=big.encode() + b" " * 1_000_000,
        headers=headers(tenant, **{"Content-Type": "application/json"}),
    )
    assert answer.status_code == 413 and answer.headers["content-type"] == PROBLEM


async def test_a_chunked_csv_upload_stops_at_its_bound(api, sessionmaker, fleet):
    tenant, provider = fleet
    before = await table_counts(sessionmaker)
    body = Endless(b"ICCID\n")
    answer = await api.post(
        f"{SUBMIT}/csv",
        content=body,
        headers=headers(
            tenant,
            **{
                "Content-Type": "text/csv",
                "X-Bulk-Change": json.dumps({"ServiceProviderId": provider.id, "ChangeType": 5}),
            },
        ),
    )
    assert answer.status_code == 413 and answer.headers["content-type"] == PROBLEM
    assert body.sent < 20
    assert await table_counts(sessionmaker) == before


class Stalling:
    """A body whose second half comes only after a long pause (a client trickling it)."""

    def __init__(self, start: bytes, pause_s: float) -> None:
        self.start = start
        self.pause_s = pause_s

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.start
        await asyncio.sleep(self.pause_s)
        yield b"}"


async def test_a_body_that_does_not_arrive_in_time_is_408_and_nothing_is_stored(
    database_url, sessionmaker, fleet
):
    tenant, provider = fleet
    settings = IntakeSettings(database_url=database_url, intake_body_timeout_s=0.3)
    app = create_app(settings)
    before = await table_counts(sessionmaker)
    body = Stalling(
        json.dumps({"ServiceProviderId": provider.id, "ChangeType": 5})[:-1].encode(), 5
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as api:
            answer = await api.post(
                SUBMIT,
                content=body,
                headers=headers(tenant, **{"Content-Type": "application/json"}),
            )
    assert answer.status_code == 408, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["type"].endswith("/body-too-slow")
    assert await table_counts(sessionmaker) == before
    documented = app.openapi()["paths"][SUBMIT]["post"]["responses"]
    assert PROBLEM in documented["408"]["content"]
