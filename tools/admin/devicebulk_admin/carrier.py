"""An adapter for one stored carrier account, with its own httpx client, closed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from devicebulk_admin.errors import AdminError
from devicebulk_admin.runtime import require_key
from devicebulk_common.carriers import CarrierAdapter, InProcessTokenCache
from devicebulk_common.models import ServiceProvider
from devicebulk_common.providers import UnsupportedIntegration, build_adapter

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@asynccontextmanager
async def open_adapter(
    provider: ServiceProvider, *, credentials_key: str
) -> AsyncIterator[CarrierAdapter]:
    key = require_key(credentials_key)
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        try:
            adapter = build_adapter(
                provider, http=http, credentials_key=key, token_cache=InProcessTokenCache()
            )
        except UnsupportedIntegration as exc:
            raise AdminError(f"provider {provider.id}: {exc}") from exc
        try:
            yield adapter
        finally:
            await adapter.aclose()
