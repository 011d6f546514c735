"""One adapter per carrier account for this process, sharing one HTTP client and token cache.

Each adapter is built with the provider's own ``carrier_options`` over this worker's defaults
for its integration (``options``: ThingSpace's ``username_field`` from
``WORKER_USERNAME_CUSTOM_FIELD``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from devicebulk_common.carriers import CarrierAdapter, InProcessTokenCache, TokenCache
from devicebulk_common.carriers.rate_limit import RateLimiter
from devicebulk_common.models import ServiceProvider
from devicebulk_common.providers import account_controls, build_adapter, merged_options


class AdapterPool:
    def __init__(
        self,
        *,
        credentials_key: str,
        timeout_s: float,
        token_cache: TokenCache | None = None,
        max_connections: int = 100,
        rate_limiter: RateLimiter | None = None,
        rate_headroom: float = 0.98,
        rate_max_wait_s: float = 20.0,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        engine: AsyncEngine | None = None,
    ) -> None:
        """``options``: each integration's default adapter options (a provider's own stored
        options win); ``engine``: for the gates a carrier that takes one call at a time shares
        across processes."""
        self._options = options or {}
        self._engine = engine
        self._limiter = rate_limiter
        self._headroom = rate_headroom
        self._max_wait_s = rate_max_wait_s
        self._key = credentials_key
        self._timeout_s = timeout_s
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            limits=httpx.Limits(max_connections=max_connections),
        )
        self._tokens = token_cache or InProcessTokenCache()
        self._adapters: dict[tuple[int, str, str, int | None, str], CarrierAdapter] = {}

    def adapter(self, provider: ServiceProvider) -> CarrierAdapter:
        options = merged_options(provider, self._options)
        # Keyed by what the adapter is built from, so an edited provider gets a fresh adapter.
        key = (
            provider.id,
            provider.base_url,
            provider.credentials_encrypted,
            provider.rate_limit_per_minute,
            json.dumps(options, sort_keys=True, default=str),
        )
        if key not in self._adapters:
            pacer, gate = account_controls(
                provider,
                limiter=self._limiter,
                engine=self._engine,
                headroom=self._headroom,
                max_wait_s=self._max_wait_s,
                options=options,
                call_timeout_s=self._timeout_s,
            )
            self._adapters[key] = build_adapter(
                provider,
                http=self._http,
                credentials_key=self._key,
                token_cache=self._tokens,
                pacer=pacer,
                options=options,
                gate=gate,
            )
        return self._adapters[key]

    async def aclose(self) -> None:
        for adapter in self._adapters.values():
            await adapter.aclose()
        await self._http.aclose()
