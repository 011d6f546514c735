"""`create-provider`: add a carrier account, its API credentials encrypted at rest.

Credentials are never command-line arguments (they would show in `ps` and shell history):
they come from a JSON file, from the environment, or from a prompt on a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.dialects.postgresql import insert

from devicebulk_admin.credentials import THINGSPACE
from devicebulk_admin.errors import AdminError
from devicebulk_admin.provider_options import check_options
from devicebulk_admin.runtime import Sessionmaker, require_key
from devicebulk_common.crypto import encrypt_json
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import ServiceProvider

CREDENTIAL_FIELDS = THINGSPACE.fields
CREDENTIAL_ENV = THINGSPACE.env
INTEGRATIONS = ("thingspace", "jasper")


@dataclass(frozen=True)
class ProviderSpec:
    id: int
    name: str
    account_name: str
    base_url: str
    integration: str = "thingspace"
    write_enabled: bool = True
    rate_limit_per_minute: int | None = None
    # The integration's options (`--option key=value`), checked by the integration.
    carrier_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderResult:
    id: int
    name: str
    account_name: str
    base_url: str
    integration: str
    write_enabled: bool
    rate_limit_per_minute: int | None
    created: bool
    carrier_options: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        if not self.created:
            return f"provider {self.id} ({self.name}) already exists: nothing changed"
        writes = "enabled" if self.write_enabled else "disabled"
        limit = self.rate_limit_per_minute or "none"
        return (
            f"created provider {self.id} ({self.name}): {self.integration} account "
            f"{self.account_name} at {self.base_url}, writes {writes}, rate limit/min {limit}, "
            f"options {json.dumps(self.carrier_options, sort_keys=True)}; "
            "credentials stored encrypted"
        )


# -- where the credentials come from ---------------------------------------------------------

credentials_from_file = THINGSPACE.from_file
credentials_from_env = THINGSPACE.from_env
read_credentials = THINGSPACE.read


# -- the command ------------------------------------------------------------------------------


def check_url(base_url: str) -> str:
    """An http(s) URL without user info (credentials never go into a URL we store and show)."""
    url = urlsplit(base_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise AdminError(f"--base-url {base_url!r} is not an http(s) URL")
    if url.username is not None or url.password is not None:
        raise AdminError("--base-url must not hold credentials (user info before the host)")
    return base_url


def check_spec(spec: ProviderSpec) -> ProviderSpec:
    if spec.id <= 0:
        raise AdminError("the provider id must be a positive integer")
    if not spec.name.strip():
        raise AdminError("the provider name must not be empty")
    if not spec.account_name.strip():
        raise AdminError("the account name must not be empty")
    if spec.integration not in INTEGRATIONS:
        raise AdminError(f"unknown integration {spec.integration!r} (known: {INTEGRATIONS})")
    check_url(spec.base_url)
    if spec.rate_limit_per_minute is not None and spec.rate_limit_per_minute <= 0:
        raise AdminError("--rate-limit-per-minute must be a positive integer")
    check_options(spec.integration, spec.carrier_options)
    return spec


def _result(provider: ServiceProvider, created: bool) -> ProviderResult:
    return ProviderResult(
        id=provider.id,
        name=provider.name,
        account_name=provider.account_name,
        base_url=provider.base_url,
        integration=provider.integration,
        write_enabled=provider.write_enabled,
        rate_limit_per_minute=provider.rate_limit_per_minute,
        created=created,
        carrier_options=dict(provider.carrier_options or {}),
    )


async def find_provider(sessionmaker: Sessionmaker, provider_id: int) -> ServiceProvider | None:
    async with sessionmaker() as session:
        return await session.get(ServiceProvider, provider_id)


async def create_provider(
    sessionmaker: Sessionmaker,
    spec: ProviderSpec,
    *,
    credentials: Callable[[], dict[str, str]],
    credentials_key: str,
    if_not_exists: bool = False,
) -> ProviderResult:
    """Insert the provider. ``credentials`` is only called when the row is really created."""
    spec = check_spec(spec)
    existing = await find_provider(sessionmaker, spec.id)
    if existing is None:
        key = require_key(credentials_key)
        encrypted = encrypt_json(key, credentials())
        statement = (
            insert(ServiceProvider)
            .values(
                id=spec.id,
                name=spec.name.strip(),
                integration=spec.integration,
                account_name=spec.account_name.strip(),
                base_url=spec.base_url.rstrip("/"),
                write_enabled=spec.write_enabled,
                rate_limit_per_minute=spec.rate_limit_per_minute,
                credentials_encrypted=encrypted,
                carrier_options=dict(spec.carrier_options),
            )
            .on_conflict_do_nothing(index_elements=[ServiceProvider.id])
            .returning(ServiceProvider)
        )
        async with unit_of_work(sessionmaker) as session:
            created = (await session.execute(statement)).scalar_one_or_none()
        if created is not None:
            return _result(created, created=True)
        existing = await find_provider(sessionmaker, spec.id)
        assert existing is not None
    if not if_not_exists:
        raise AdminError(
            f"provider {spec.id} already exists ({existing.name!r}, account "
            f"{existing.account_name}); pass --if-not-exists to accept an existing provider"
        )
    return _result(existing, created=False)


async def load_provider(sessionmaker: Sessionmaker, provider_id: int) -> ServiceProvider:
    provider = await find_provider(sessionmaker, provider_id)
    if provider is None:
        raise AdminError(f"provider {provider_id} does not exist (create it with create-provider)")
    return provider
