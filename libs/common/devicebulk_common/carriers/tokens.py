"""Token caches shared by every call made for one carrier account.

Keys are per carrier account, e.g. ``thingspace:{base_url}:{account}:oauth`` and
``...:session``. Expiry times are wall-clock epoch seconds (``time.time()``) so that a
shared implementation (Redis, PostgreSQL) can hold tokens for several processes.

The refresh protocol every caller follows:

1. ``get``; use the token if it is not within the margin of its expiry;
2. otherwise enter ``refresh_lock(key)``, ``get`` again (someone may have refreshed while
   we waited), and only then fetch a new token and ``set`` it.

``invalidate`` and ``touch`` compare the stored value first, so that a caller holding a
stale token can never delete or prolong the fresh token another caller just stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CachedToken:
    value: str
    expires_at: float

    def usable(self, now: float, margin_s: float) -> bool:
        return self.expires_at - margin_s > now


class TokenCache(Protocol):
    async def get(self, key: str, *, fresh: bool = False) -> CachedToken | None:
        """The cached token, or None when absent or past its expiry. ``fresh`` reads the
        shared store itself, never a copy this process kept (a mark an operator may have
        removed, such as a refused login's)."""
        ...

    async def set(self, key: str, token: str, expires_at: float) -> None: ...

    async def invalidate(self, key: str, token: str) -> None:
        """Forget `key` if it still holds `token`."""
        ...

    async def touch(self, key: str, token: str, expires_at: float) -> None:
        """Move the expiry of `key` to `expires_at` if it still holds `token`."""
        ...

    def refresh_lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """Held while refreshing `key`, so that only one refresh runs at a time."""
        ...


class InProcessTokenCache:
    """A TokenCache for one process: a dict and one asyncio lock per key."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tokens: dict[str, CachedToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, *, fresh: bool = False) -> CachedToken | None:
        token = self._tokens.get(key)
        if token is None or token.expires_at <= self._clock():
            return None
        return token

    async def set(self, key: str, token: str, expires_at: float) -> None:
        self._tokens[key] = CachedToken(token, expires_at)

    async def invalidate(self, key: str, token: str) -> None:
        current = self._tokens.get(key)
        if current is not None and current.value == token:
            del self._tokens[key]

    async def touch(self, key: str, token: str, expires_at: float) -> None:
        current = self._tokens.get(key)
        if current is not None and current.value == token:
            self._tokens[key] = CachedToken(token, expires_at)

    @asynccontextmanager
    async def refresh_lock(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            yield
