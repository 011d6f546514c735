"""From a stored Control Center provider to a ready adapter (credentials decrypted only here),
with its shared gate: one call at a time and the calls-per-second cap, for every process (the
gate paces calls by their real send times, so no separate budget is needed: see gate.py)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from devicebulk_common.crypto import decrypt_json, encrypt_json
from devicebulk_common.models import ServiceProvider

from ..tokens import TokenCache
from .adapter import JasperAdapter
from .capabilities import INTEGRATION
from .config import JasperConfig
from .gate import Gate, SharedGate


def account_key(provider: ServiceProvider) -> str:
    """The account's key in the shared limiter and gate (as the worker keys ThingSpace's)."""
    return f"{provider.integration}:{provider.base_url}:{provider.account_name}"


def encrypt_credentials(credentials_key: str, *, username: str, api_key: str) -> str:
    """What `service_provider.credentials_encrypted` holds for a Control Center provider."""
    if not username or not api_key:
        raise ValueError("a Control Center provider needs a user name and an API key")
    return encrypt_json(credentials_key, {"username": username, "api_key": api_key})


def calls_per_minute(provider: ServiceProvider, config: JasperConfig) -> float:
    """The provider's own limit, else the configured calls-per-second cap."""
    return float(provider.rate_limit_per_minute or config.calls_per_second * 60.0)


def send_interval_s(provider: ServiceProvider, config: JasperConfig) -> float:
    """The least time between two sends of the account: 1 / (cap x `rate_headroom`)."""
    return 60.0 / (calls_per_minute(provider, config) * config.rate_headroom)


# A lease outlives its call's longest answer by this much, so a slow answer never lets a
# second call in; a killed holder's slot frees itself after the timeout and this margin.
LEASE_MARGIN_S = 10.0


def shared_gate(
    engine: AsyncEngine,
    provider: ServiceProvider,
    config: JasperConfig,
    *,
    max_wait_s: float = 20.0,
    call_timeout_s: float = 30.0,
) -> Gate:
    """The account's gate shared by every process: `concurrency` calls at once, each sent at
    least `send_interval_s` after the previous one and a second after the answer to the
    cap-th call before it (the cap in whole calls a second); `call_timeout_s` is the HTTP
    client's."""
    per_second = calls_per_minute(provider, config) / 60.0
    return SharedGate(
        engine,
        account_key(provider),
        config.concurrency,
        interval_s=send_interval_s(provider, config),
        per_window=max(1, math.floor(per_second + 1e-9)),
        window_s=1.0,
        hold_s=call_timeout_s + LEASE_MARGIN_S,
        max_wait_s=max_wait_s,
    )


def build_jasper_adapter(
    provider: ServiceProvider,
    *,
    http: httpx.AsyncClient,
    credentials_key: str,
    refusal_cache: TokenCache,
    config: JasperConfig | Mapping[str, Any] | None = None,
    pacer: Callable[[], Awaitable[None]] | None = None,
    gate: Gate | None = None,
) -> JasperAdapter:
    if provider.integration != INTEGRATION:
        raise ValueError(f"provider {provider.id} is a {provider.integration!r} provider")
    if not isinstance(config, JasperConfig):
        config = JasperConfig.from_mapping(config or {})
    creds = decrypt_json(credentials_key, provider.credentials_encrypted)
    return JasperAdapter(
        http,
        base_url=provider.base_url,
        account_name=provider.account_name,
        username=creds["username"],
        api_key=creds["api_key"],
        refusal_cache=refusal_cache,
        config=config,
        pacer=pacer,
        gate=gate,
    )
