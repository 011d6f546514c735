"""A process is not ready until the database has the schema its release needs: a pod started
before the release's migration Job has run stays out of its Service (and a rolling update's old
pods stay ready once the new release has migrated)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from devicebulk_common.db.engine import create_engine
from devicebulk_common.db.migrate import upgrade
from devicebulk_common.health import HealthServer, database_check
from devicebulk_common.web import health_router

# As the root conftest.py reads them.
PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_HOST = os.environ.get("TEST_PG_HOST", "postgres@127.0.0.1:5432")


@pytest.fixture
async def bare_database_url() -> AsyncIterator[str]:
    """An empty database of this test's own (never migrated)."""
    name = f"devicebulk_test_schema_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield f"postgresql+asyncpg://{PG_HOST}/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _previous_revision() -> str:
    from alembic.script import ScriptDirectory

    from devicebulk_common.db.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("postgresql://"))
    head = script.get_revision(script.get_current_head())
    assert isinstance(head.down_revision, str)
    return head.down_revision


async def _readyz(server: HealthServer) -> int:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://127.0.0.1:{server.port}/readyz")).status_code


async def test_health_server_is_ready_only_once_the_schema_is_this_releases(bare_database_url):
    engine = create_engine(bare_database_url, pool_size=1)
    server = HealthServer(host="127.0.0.1", port=0, checks=[database_check(engine)])
    await server.start()
    try:
        assert await _readyz(server) == 503  # never migrated
        await asyncio.to_thread(upgrade, bare_database_url, _previous_revision())
        assert await _readyz(server) == 503  # the release before this one
        await asyncio.to_thread(upgrade, bare_database_url)
        assert await _readyz(server) == 200
        # A newer release migrated it (a revision this one does not know): still ready, so
        # the old pods of a rolling update keep serving.
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'f00d_newer'"))
        assert await _readyz(server) == 200
    finally:
        await server.close()
        await engine.dispose()


async def test_http_readyz_says_unready_before_the_migration(bare_database_url):
    app = FastAPI()
    app.include_router(health_router())
    app.state.engine = create_engine(bare_database_url, pool_size=1)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://app"
        ) as client:
            before = await client.get("/readyz")
            await asyncio.to_thread(upgrade, bare_database_url)
            after = await client.get("/readyz")
    finally:
        await app.state.engine.dispose()
    assert before.status_code == 503
    assert after.status_code == 200


def test_this_release_knows_its_head():
    from devicebulk_common.health import schema_revisions

    head, known = schema_revisions()
    assert head in known and len(known) >= 2
