"""Async SQLAlchemy engine and session factories (explicit arguments, no settings objects)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine


def create_engine(
    dsn: str, *, pool_size: int = 10, max_overflow: int = 5, application_name: str = "devicebulk"
) -> AsyncEngine:
    return _create_async_engine(
        dsn,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        # SQL errors and echo logs must not carry bound parameters (bodies, addresses, MSISDNs).
        hide_parameters=True,
        connect_args={"server_settings": {"application_name": application_name}},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One transaction: commits when the block ends normally, rolls back on an exception."""
    async with sessionmaker() as session, session.begin():
        yield session
