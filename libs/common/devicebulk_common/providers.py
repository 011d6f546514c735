"""From a stored carrier account to a ready adapter (credentials decrypted only here)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from devicebulk_common.carriers import CarrierAdapter, ThingSpaceAdapter, TokenCache
from devicebulk_common.carriers.jasper.capabilities import INTEGRATION as JASPER
from devicebulk_common.carriers.jasper.config import JasperConfig
from devicebulk_common.carriers.jasper.factory import (
    build_jasper_adapter,
    shared_gate,
)
from devicebulk_common.carriers.jasper.gate import Gate
from devicebulk_common.carriers.jasper.seam import JasperCarrier
from devicebulk_common.carriers.rate_limit import Pacer, RateLimiter
from devicebulk_common.crypto import decrypt_json
from devicebulk_common.models import ServiceProvider


class UnsupportedIntegration(ValueError):
    pass


def build_adapter(
    provider: ServiceProvider,
    *,
    http: httpx.AsyncClient,
    credentials_key: str,
    token_cache: TokenCache,
    pacer: Callable[[], Awaitable[None]] | None = None,
    options: Mapping[str, Any] | None = None,
    gate: Gate | None = None,
) -> CarrierAdapter:
    """The provider's ``integration`` picks the adapter; ``options`` are that adapter's own
    settings (ThingSpace: ``username_field``; Control Center: its `JasperConfig` keys). ``gate``:
    Control Center's one-call-at-a-time gate of the account (shared by every process)."""
    if provider.integration == JASPER:
        jasper = build_jasper_adapter(
            provider,
            http=http,
            credentials_key=credentials_key,
            refusal_cache=token_cache,
            config=dict(options or {}),
            pacer=pacer,
            gate=gate,
        )
        return cast(CarrierAdapter, JasperCarrier(jasper))
    if provider.integration != "thingspace":
        raise UnsupportedIntegration(f"no carrier adapter for {provider.integration!r}")
    creds = decrypt_json(credentials_key, provider.credentials_encrypted)
    return ThingSpaceAdapter(
        http,
        base_url=provider.base_url,
        account_name=provider.account_name,
        client_key=creds["client_key"],
        client_secret=creds["client_secret"],
        username=creds["username"],
        password=creds["password"],
        token_cache=token_cache,
        pacer=pacer,
        **dict(options or {}),
    )


def account_controls(
    provider: ServiceProvider,
    *,
    limiter: RateLimiter | None,
    engine: AsyncEngine | None,
    headroom: float,
    max_wait_s: float,
    options: Mapping[str, Any] | None = None,
    call_timeout_s: float = 30.0,
) -> tuple[Pacer | None, Gate | None]:
    """The account's shared budget (every process's calls count against one limit) and, for a
    carrier that takes one call at a time, its shared gate.

    A ThingSpace account is paced by the GCRA limiter (`Pacer`, at ``headroom`` of the
    provider's per-minute limit) only when the provider sets its own limit. A Control Center
    account gets no pacer: its gate does both jobs (one call at a time, and its calls-per-second
    cap, the provider's limit or the configured one, at the config's `rate_headroom`, spaced by
    real send times; see `carriers/jasper/gate.py`). ``call_timeout_s``: the HTTP client's
    timeout (a gate's lease outlives it)."""
    if provider.integration == JASPER:
        if engine is None:
            return None, None
        config = JasperConfig.from_mapping(dict(options or {}))
        gate = shared_gate(
            engine, provider, config, max_wait_s=max_wait_s, call_timeout_s=call_timeout_s
        )
        return None, gate
    if limiter is None or not provider.rate_limit_per_minute:
        return None, None
    pacer = Pacer(
        limiter,
        key=f"{provider.integration}:{provider.base_url}:{provider.account_name}",
        per_minute=provider.rate_limit_per_minute * headroom,
        max_wait_s=max_wait_s,
    )
    return pacer, None
