"""The issuer's signing keys (its JWKS), fetched with httpx and kept.

The set is fetched on first use and again once it is ``max_age_s`` old. A token that names a key
the set does not hold (the issuer has rotated its keys) makes one refetch, and such refetches
happen at most once every ``refetch_s``: a stream of made-up ``kid`` values costs the issuer one
request a minute, not one a token. Concurrent requests share one fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import structlog

log = structlog.get_logger(__name__)

# Key types a signature can be checked with; "oct" (a shared secret) never is.
ASYMMETRIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
MAX_JWKS_BYTES = 512 * 1024
# After a failed fetch, the next try waits this long (or ``refetch_s`` if shorter).
FAILED_FETCH_BACKOFF_S = 5.0


class UnknownKey(Exception):
    """The token names a key the issuer's set does not hold (after any refetch allowed)."""


class KeysUnavailable(Exception):
    """The set has never been fetched, and fetching it failed."""


def _signing_keys(document: Any) -> dict[str | None, dict[str, Any]]:
    """The asymmetric signing keys of a JWKS document, by ``kid``."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no keys list)")
    keys: dict[str | None, dict[str, Any]] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") not in ASYMMETRIC_KEY_TYPES:
            continue
        if jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        keys[kid if isinstance(kid, str) else None] = jwk
    return keys


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient,
        max_age_s: float,
        refetch_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._client = client
        self._max_age_s = max_age_s
        self._refetch_s = refetch_s
        self._clock = clock
        self._keys: dict[str | None, dict[str, Any]] | None = None
        self._fetched_at = float("-inf")  # the last successful fetch
        self._next_try = float("-inf")  # no fetch before this (after a failure)
        self._last_refetch = float("-inf")  # the last refetch for an unknown kid
        self._lock = asyncio.Lock()
        self.fetches = 0  # successful fetches (for logs and tests)

    async def key(self, kid: str | None) -> dict[str, Any]:
        """The JWK ``kid`` names (a token without ``kid``: the set's only key)."""
        now = self._clock()
        if self._keys is None or now - self._fetched_at >= self._max_age_s:
            await self._refresh(stale=self._keys)
        found = self._find(kid)
        if found is None and self._clock() - self._last_refetch >= self._refetch_s:
            await self._refetch_for(kid)
            found = self._find(kid)
        if found is None:
            raise UnknownKey(
                "the token names no key (kid)" if kid is None else f"unknown signing key {kid!r}"
            )
        return found

    def _find(self, kid: str | None) -> dict[str, Any] | None:
        keys = self._keys or {}
        if kid is None:
            return next(iter(keys.values())) if len(keys) == 1 else None
        return keys.get(kid)

    async def _refresh(self, *, stale: object) -> None:
        async with self._lock:
            if self._keys is not stale or self._clock() < self._next_try:
                return  # another request has fetched meanwhile, or a failure is recent
            await self._fetch()
        if self._keys is None:
            raise KeysUnavailable(f"the issuer's keys could not be fetched from {self.url}")

    async def _refetch_for(self, kid: str | None) -> None:
        async with self._lock:
            if self._find(kid) is not None:
                return  # another request's refetch brought it
            if self._clock() - self._last_refetch < self._refetch_s:
                return
            self._last_refetch = self._clock()
            log.info("jwks refetch for an unknown key", kid=kid)
            await self._fetch()

    async def _fetch(self) -> None:
        """One fetch; a failure keeps the keys we have (logged), and is retried later."""
        try:
            answer = await self._client.get(self.url, headers={"Accept": "application/json"})
            answer.raise_for_status()
            if len(answer.content) > MAX_JWKS_BYTES:
                raise ValueError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
            keys = _signing_keys(answer.json())
        except (httpx.HTTPError, ValueError) as exc:
            self._next_try = self._clock() + min(FAILED_FETCH_BACKOFF_S, self._refetch_s)
            log.warning("jwks fetch failed", url=self.url, error=repr(exc)[:300])
            return
        self._keys = keys
        self._fetched_at = self._clock()
        self.fetches += 1
        log.info("jwks fetched", url=self.url, keys=len(keys))
