"""From a stored carrier account to a ready adapter (credentials decrypted only here), and the
account's integration options: each integration validates its own (``carrier_config``), and a
provider's stored ``carrier_options`` go over the service's defaults (``provider_config``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from devicebulk_common.carriers import CarrierAdapter, ThingSpaceAdapter, TokenCache
from devicebulk_common.carriers.capabilities import CarrierCapabilities
from devicebulk_common.carriers.jasper.capabilities import INTEGRATION as JASPER
from devicebulk_common.carriers.jasper.capabilities import capabilities as jasper_capabilities
from devicebulk_common.carriers.jasper.config import JasperConfig
from devicebulk_common.carriers.jasper.factory import (
    build_jasper_adapter,
    shared_gate,
)
from devicebulk_common.carriers.jasper.gate import Gate
from devicebulk_common.carriers.jasper.seam import JasperCarrier
from devicebulk_common.carriers.rate_limit import Pacer, RateLimiter
from devicebulk_common.carriers.thingspace_capabilities import (
    CAPABILITIES as THINGSPACE_CAPABILITIES,
)
from devicebulk_common.carriers.thingspace_capabilities import INTEGRATION as THINGSPACE
from devicebulk_common.carriers.thingspace_config import ThingSpaceConfig
from devicebulk_common.crypto import decrypt_json
from devicebulk_common.models import ServiceProvider


class UnsupportedIntegration(ValueError):
    pass


class InvalidCarrierOptions(ValueError):
    """A provider's options its integration refuses (the message names the option)."""


CarrierConfig = JasperConfig | ThingSpaceConfig
INTEGRATIONS = (THINGSPACE, JASPER)
# Options every service may give as defaults, by integration (a provider's own win).
Defaults = Mapping[str, Mapping[str, Any]]


def carrier_config(integration: str, options: Mapping[str, Any] | None = None) -> CarrierConfig:
    """The integration's config from plain options, validated by its adapter package."""
    try:
        if integration == JASPER:
            return JasperConfig.from_mapping(dict(options or {}))
        if integration == THINGSPACE:
            return ThingSpaceConfig.from_mapping(dict(options or {}))
    except (TypeError, ValueError) as exc:
        raise InvalidCarrierOptions(f"{integration} options: {exc}") from exc
    raise UnsupportedIntegration(f"no carrier adapter for {integration!r}")


def merged_options(provider: ServiceProvider, defaults: Defaults | None = None) -> dict[str, Any]:
    """The service's defaults for the provider's integration, the provider's own over them."""
    own = provider.carrier_options or {}
    return {**dict((defaults or {}).get(provider.integration) or {}), **own}


def provider_config(provider: ServiceProvider, defaults: Defaults | None = None) -> CarrierConfig:
    return carrier_config(provider.integration, merged_options(provider, defaults))


def capabilities_of(integration: str, config: CarrierConfig) -> CarrierCapabilities:
    """What the integration can do (without building an adapter)."""
    if isinstance(config, JasperConfig):
        return jasper_capabilities(config)
    if integration == THINGSPACE:
        return THINGSPACE_CAPABILITIES
    raise UnsupportedIntegration(f"no carrier adapter for {integration!r}")


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
    settings, validated by ``carrier_config`` (ThingSpace: ``username_field``; Control Center:
    its `JasperConfig` keys): the caller merges the provider's stored ones over its defaults
    (``merged_options``). ``gate``: Control Center's one-call-at-a-time gate of the account
    (shared by every process)."""
    config = carrier_config(provider.integration, options)
    if isinstance(config, JasperConfig):
        jasper = build_jasper_adapter(
            provider,
            http=http,
            credentials_key=credentials_key,
            refusal_cache=token_cache,
            config=config,
            pacer=pacer,
            gate=gate,
        )
        return cast(CarrierAdapter, JasperCarrier(jasper))
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
        username_field=config.username_field,
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
