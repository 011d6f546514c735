"""A TokenCache shared by every worker process and replica: PostgreSQL holds the tokens
(encrypted with the credentials key), an advisory lock lets one process refresh at a time, and
each process keeps a read-through copy so a carrier call costs no query while its token is good.

Correct under the refresh protocol of `tokens.py`: a process whose copy went stale meets the
carrier's expiry answer, invalidates by value (a fresher token stored by another process is not
touched), and reads the table again inside the refresh lock before fetching anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devicebulk_common.carriers.tokens import CachedToken
from devicebulk_common.crypto import decrypt_json, encrypt_json

# A session's expiry is pushed forward on every use; writing that through on every call would
# cost a query per call, so the table is only updated when the expiry moves by more than this.
TOUCH_WRITE_STEP_S = 60.0

_GET = text("SELECT value_encrypted, expires_at FROM carrier_token WHERE key = :key")
_SET = text(
    """
    INSERT INTO carrier_token (key, value_encrypted, value_sha256, expires_at, updated_at)
    VALUES (:key, :value, :sha, :expires_at, now())
    ON CONFLICT (key) DO UPDATE SET value_encrypted = EXCLUDED.value_encrypted,
        value_sha256 = EXCLUDED.value_sha256, expires_at = EXCLUDED.expires_at, updated_at = now()
    """
)
_INVALIDATE = text("DELETE FROM carrier_token WHERE key = :key AND value_sha256 = :sha")
_TOUCH = text(
    """
    UPDATE carrier_token SET expires_at = :expires_at, updated_at = now()
    WHERE key = :key AND value_sha256 = :sha AND expires_at < :expires_at
    """
)


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class SharedTokenCache:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        credentials_key: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._key = credentials_key
        self._clock = clock
        self._local: dict[str, CachedToken] = {}
        self._written_expiry: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, *, fresh: bool = False) -> CachedToken | None:
        local = self._local.get(key)
        now = self._clock()
        if not fresh and local is not None and local.expires_at > now:
            return local
        async with self._engine.connect() as conn:
            row = (await conn.execute(_GET, {"key": key})).first()
        if row is None or row.expires_at <= now:
            self._local.pop(key, None)
            return None
        token = CachedToken(decrypt_json(self._key, row.value_encrypted)["t"], row.expires_at)
        self._local[key] = token
        self._written_expiry[key] = row.expires_at
        return token

    async def set(self, key: str, token: str, expires_at: float) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                _SET,
                {
                    "key": key,
                    "value": encrypt_json(self._key, {"t": token}),
                    "sha": _sha(token),
                    "expires_at": expires_at,
                },
            )
        self._local[key] = CachedToken(token, expires_at)
        self._written_expiry[key] = expires_at

    async def invalidate(self, key: str, token: str) -> None:
        local = self._local.get(key)
        if local is not None and local.value == token:
            del self._local[key]
        async with self._engine.begin() as conn:
            await conn.execute(_INVALIDATE, {"key": key, "sha": _sha(token)})

    async def touch(self, key: str, token: str, expires_at: float) -> None:
        local = self._local.get(key)
        if local is not None and local.value == token:
            self._local[key] = CachedToken(token, expires_at)
        if expires_at - self._written_expiry.get(key, 0.0) < TOUCH_WRITE_STEP_S:
            return
        self._written_expiry[key] = expires_at
        async with self._engine.begin() as conn:
            await conn.execute(_TOUCH, {"key": key, "sha": _sha(token), "expires_at": expires_at})

    @asynccontextmanager
    async def refresh_lock(self, key: str) -> AsyncIterator[None]:
        # One coroutine of this process at a time, then one process of all of them.
        async with self._locks.setdefault(key, asyncio.Lock()):
            self._local.pop(key, None)  # inside the lock, read what the others stored
            async with self._engine.connect() as conn:
                await conn.execute(
                    text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": f"token:{key}"}
                )
                try:
                    yield
                finally:
                    await conn.execute(
                        text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": f"token:{key}"}
                    )
                    await conn.commit()
