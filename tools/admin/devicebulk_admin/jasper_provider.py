"""`create-provider --integration jasper`: a Cisco Control Center account, its user name and API
key encrypted at rest; and `sync-inventory` for such a provider.

The credentials are never command-line arguments: they come from a JSON file
(`{"username", "api_key"}`), from JASPER_USERNAME and JASPER_API_KEY, or from a prompt on a
terminal. The base URL is the operator's API root, ending in `/rws/api/v1` (`--base-url`, else
JASPER_BASE_URL): the tenant console's host answers the API's paths with an HTML 404, so a URL
of another shape is refused here rather than at the first device.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select

from devicebulk_admin import inventory
from devicebulk_admin.carrier import TIMEOUT
from devicebulk_admin.credentials import CONTROL_CENTER
from devicebulk_admin.errors import AdminError
from devicebulk_admin.provider_options import parse_options
from devicebulk_admin.providers import (
    ProviderResult,
    ProviderSpec,
    create_provider,
    load_provider,
)
from devicebulk_admin.runtime import Sessionmaker, require_key
from devicebulk_admin.tenants import require_tenant
from devicebulk_common.carriers import CarrierDevice, InProcessTokenCache
from devicebulk_common.carriers.jasper import INTEGRATION, build_jasper_adapter
from devicebulk_common.carriers.jasper.status_graph import NEUTRAL_STATUS
from devicebulk_common.models import Device, ServiceProvider

CREDENTIAL_ENV = CONTROL_CENTER.env
BASE_URL_ENV = "JASPER_BASE_URL"
API_PATH = "/rws/api/v1"

__all__ = [
    "INTEGRATION",
    "create_from_args",
    "create_jasper_provider",
    "read_credentials",
    "sync_if_jasper",
    "sync_jasper_inventory",
]


read_credentials = CONTROL_CENTER.read


def check_base_url(given: str | None, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    url = (given or env.get(BASE_URL_ENV) or "").rstrip("/")
    if not url:
        raise AdminError(f"a Control Center provider needs --base-url (or {BASE_URL_ENV})")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AdminError(f"--base-url {url!r} is not an http(s) URL")
    if not parts.path.endswith(API_PATH):
        raise AdminError(
            f"--base-url {url!r} must be the operator's API root, ending in {API_PATH} "
            "(e.g. https://restapi1.jasper.com/rws/api/v1)"
        )
    return url


async def create_jasper_provider(
    sessionmaker: Sessionmaker,
    spec: ProviderSpec,
    *,
    credentials: Callable[[], dict[str, str]],
    credentials_key: str,
    if_not_exists: bool = False,
) -> ProviderResult:
    """Insert the provider (as every carrier's is): its ``{"username", "api_key"}`` encrypted.
    ``credentials`` is only called when the row is really created."""
    return await create_provider(
        sessionmaker,
        replace(spec, integration=INTEGRATION),
        credentials=credentials,
        credentials_key=credentials_key,
        if_not_exists=if_not_exists,
    )


async def create_from_args(
    args: argparse.Namespace, db: Sessionmaker, credentials_key: str
) -> ProviderResult:
    spec = ProviderSpec(
        id=args.id,
        name=args.name,
        account_name=args.account_name,
        base_url=check_base_url(args.base_url),
        integration=INTEGRATION,
        write_enabled=args.write_enabled,
        rate_limit_per_minute=args.rate_limit_per_minute,
        carrier_options=parse_options(args.option),
    )
    return await create_jasper_provider(
        db,
        spec,
        credentials=lambda: read_credentials(args.credentials_file),
        credentials_key=credentials_key,
        if_not_exists=args.if_not_exists,
    )


# -- sync-inventory ---------------------------------------------------------------------------


def _neutral(device: CarrierDevice) -> CarrierDevice:
    """The device with its SIM status as our neutral status (`ACTIVATED` -> `active`, ...), the
    form `inventory` maps; an unknown status is kept, and counted as unmapped there."""
    return replace(device, state=NEUTRAL_STATUS.get(device.state, device.state))


async def sync_jasper_inventory(
    sessionmaker: Sessionmaker,
    provider: ServiceProvider,
    *,
    credentials_key: str,
    tenant_id: int | None = None,
) -> inventory.SyncResult:
    """`sync-inventory` for a Control Center provider: Search Devices from the configured start,
    applied a chunk at a time as for ThingSpace (status, carrier rate plan; new devices under
    ``tenant_id``)."""
    if tenant_id is not None:
        await require_tenant(sessionmaker, tenant_id)
    result = inventory.SyncResult(provider_id=provider.id, tenant_id=tenant_id)
    matched = 0
    chunk: list[CarrierDevice] = []
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        adapter = build_jasper_adapter(
            provider,
            http=http,
            credentials_key=require_key(credentials_key),
            refusal_cache=InProcessTokenCache(),
            config=dict(provider.carrier_options or {}),
        )
        async for found in adapter.list_devices():
            result.seen += 1
            if not found.iccid:
                result.without_iccid += 1
                continue
            device = _neutral(found)
            if inventory.map_state(device.state) is None:
                result.unmapped_state += 1
            chunk.append(device)
            if len(chunk) >= inventory.CHUNK:
                matched += await inventory._apply_chunk(
                    sessionmaker, provider.id, tenant_id, chunk, result
                )
                chunk = []
    if chunk:
        matched += await inventory._apply_chunk(sessionmaker, provider.id, tenant_id, chunk, result)
    async with sessionmaker() as session:
        ours = await session.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.service_provider_id == provider.id, Device.is_deleted.is_(False))
        )
    result.missing_at_carrier = max(0, (ours or 0) - matched - result.created)
    return result


async def sync_if_jasper(
    db: Sessionmaker, provider_id: int, tenant_id: int | None, credentials_key: str
) -> inventory.SyncResult | None:
    """The sync of a Control Center provider, or None for a provider of another integration."""
    provider = await load_provider(db, provider_id)
    if provider.integration != INTEGRATION:
        return None
    return await sync_jasper_inventory(
        db, provider, credentials_key=credentials_key, tenant_id=tenant_id
    )
