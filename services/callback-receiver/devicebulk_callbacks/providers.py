"""The callback credentials of each carrier account, cached briefly (every callback needs them)."""

from __future__ import annotations

import time
from dataclasses import dataclass

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
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, key: str, ttl_s: float
    ) -> None:
        self._sessionmaker = sessionmaker
        self._key = key
        self._ttl_s = ttl_s
        self._cache: dict[int, tuple[float, CallbackCredentials | None]] = {}

    async def get(self, provider_id: int) -> CallbackCredentials | None:
        hit = self._cache.get(provider_id)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        async with self._sessionmaker() as session:
            provider = await session.get(ServiceProvider, provider_id)
        creds = None
        if (
            provider is not None
            and provider.callback_username
            and provider.callback_password_encrypted
            and provider.callback_path_secret_sha256
        ):
            password = decrypt_json(self._key, provider.callback_password_encrypted)["password"]
            creds = CallbackCredentials(
                provider_id=provider.id,
                username=provider.callback_username,
                password=password,
                path_secret_sha256=provider.callback_path_secret_sha256,
            )
        self._cache[provider_id] = (time.monotonic() + self._ttl_s, creds)
        return creds
