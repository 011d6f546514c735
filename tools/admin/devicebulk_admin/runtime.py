"""What every command is handed: a session maker bound to the database, and the credentials key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_admin.errors import AdminError
from devicebulk_common.crypto import CredentialsKeyError, check_key
from devicebulk_common.db.engine import create_engine, create_sessionmaker

Sessionmaker = async_sessionmaker[AsyncSession]


@asynccontextmanager
async def open_database(database_url: str) -> AsyncIterator[Sessionmaker]:
    """A small engine for one command, disposed of when the command ends."""
    engine = create_engine(
        database_url, pool_size=2, max_overflow=0, application_name="devicebulk-admin"
    )
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


def require_key(key: str) -> str:
    """The credentials key (one Fernet key or a comma-separated list, the first encrypting),
    checked to be usable before anything is encrypted."""
    if not key.strip():
        raise AdminError(
            "CREDENTIALS_KEY is not set: generate one with `devicebulk-admin new-credentials-key`"
            " and export it (the services need the same key)"
        )
    try:
        return check_key(key)
    except CredentialsKeyError as exc:
        raise AdminError(str(exc)) from None
