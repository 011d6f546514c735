"""From a stored carrier account to a ready adapter (credentials decrypted only here)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

import httpx

from devicebulk_common.carriers import CarrierAdapter, ThingSpaceAdapter, TokenCache
from devicebulk_common.carriers.jasper.capabilities import INTEGRATION as JASPER
from devicebulk_common.carriers.jasper.factory import build_jasper_adapter
from devicebulk_common.carriers.jasper.gate import Gate
from devicebulk_common.carriers.jasper.seam import JasperCarrier
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
