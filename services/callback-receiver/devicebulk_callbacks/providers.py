"""The callback credentials of each carrier account, cached briefly (every callback needs them)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.crypto import decrypt_json, digest, equal
from devicebulk_common.models import ServiceProvider


@dataclass(frozen=True)
class CallbackCredentials:
    provider_id: int
    username: str
    password: str
    path_secret_sha256: str

    def path_ok(self, secret: str) -> bool:
        return equal(digest(secret), self.path_secret_sha256)

    def body_ok(self, username: str, password: str) -> bool:
        # Both compared in constant time, and both always compared.
        return equal(username, self.username) & equal(password, self.password)


class CredentialStore:
    """Every provider's listener credentials, held as one snapshot reloaded (one query, one
    reload at a time) when older than ``ttl_s``.

    A path naming an id no provider has costs no database work: the snapshot answers it, so
    made-up ids neither query the database nor grow a cache. The snapshot is bounded by what
    operators registered (``service_provider`` rows with a listener), never by what comes in.
    If the reload fails (the database is away), :meth:`get` raises and the caller answers 503.
    """

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, key: str, ttl_s: float
    ) -> None:
        self._sessionmaker = sessionmaker
        self._key = key
        self._ttl_s = ttl_s
        self._snapshot: dict[int, CallbackCredentials] = {}
        self._expires = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, provider_id: int) -> CallbackCredentials | None:
        if self._expires <= time.monotonic():
            async with self._lock:
                if self._expires <= time.monotonic():  # nobody reloaded while we waited
                    started = time.monotonic()
                    self._snapshot = await self._load()
                    self._expires = started + self._ttl_s
        return self._snapshot.get(provider_id)

    async def _load(self) -> dict[int, CallbackCredentials]:
        async with self._sessionmaker() as session:
            rows = (
                await session.execute(
                    select(
                        ServiceProvider.id,
                        ServiceProvider.callback_username,
                        ServiceProvider.callback_password_encrypted,
                        ServiceProvider.callback_path_secret_sha256,
                    ).where(
                        ServiceProvider.callback_username.is_not(None),
                        ServiceProvider.callback_username != "",
                        ServiceProvider.callback_password_encrypted.is_not(None),
                        ServiceProvider.callback_path_secret_sha256.is_not(None),
                    )
                )
            ).all()
        return {
            row.id: CallbackCredentials(
                provider_id=row.id,
                username=row.callback_username,
                password=decrypt_json(self._key, row.callback_password_encrypted)["password"],
                path_secret_sha256=row.callback_path_secret_sha256,
            )
            for row in rows
        }
