"""`alembic check` against a throwaway database: fails if the models and migrations drift."""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
from alembic import command

from devicebulk_common.db.migrate import alembic_config, upgrade

ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _sql(statement: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def main() -> None:
    name = f"devicebulk_check_{uuid.uuid4().hex[:8]}"
    asyncio.run(_sql(f'CREATE DATABASE "{name}"'))
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        upgrade(url)
        command.check(alembic_config(url))
        print("alembic check: models and migrations agree")
    finally:
        asyncio.run(_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
