"""`update-provider` and `list-providers`: change a carrier account after `create-provider`, and
show every account without any secret.

Replacing the credentials (from a JSON file or the THINGSPACE_* variables, never the command
line) drops the account's cached carrier tokens in the same transaction, so no process goes
on with a token of the old credentials; the workers build a fresh adapter for an edited
provider (their adapters are keyed by base URL, credentials, rate limit and options).

`--option key=value` sets one of the integration's options (`--clear-option key` returns it to
the services' default); the options as they would be stored are checked by the integration
first (`provider_options.check_options`), and refused ones change nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from devicebulk_admin.errors import AdminError
from devicebulk_admin.provider_options import check_options
from devicebulk_admin.providers import check_url, credentials_from_env, credentials_from_file
from devicebulk_admin.runtime import Sessionmaker, require_key
from devicebulk_common.carriers.thingspace import token_key_prefix
from devicebulk_common.crypto import encrypt_json
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import CarrierToken, ServiceProvider

_NOT_GIVEN: Any = object()


@dataclass(frozen=True)
class ProviderChanges:
    """What to change; a field left at its default stays as stored."""

    write_enabled: bool | None = None
    rate_limit_per_minute: int | None = _NOT_GIVEN  # None clears the limit
    base_url: str | None = None
    credentials: Callable[[], dict[str, str]] | None = None
    # Integration options to set (over the stored ones) and to remove.
    options: Mapping[str, Any] = field(default_factory=dict)
    clear_options: tuple[str, ...] = ()

    def empty(self) -> bool:
        return (
            self.write_enabled is None
            and self.rate_limit_per_minute is _NOT_GIVEN
            and self.base_url is None
            and self.credentials is None
            and not self.options
            and not self.clear_options
        )

    def options_over(self, stored: Mapping[str, Any] | None) -> dict[str, Any]:
        out = {**(stored or {}), **self.options}
        for key in self.clear_options:
            out.pop(key, None)
        return out


@dataclass(frozen=True)
class UpdateResult:
    id: int
    changed: list[str]
    tokens_dropped: int
    write_enabled: bool
    rate_limit_per_minute: int | None
    base_url: str
    carrier_options: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        if not self.changed:
            return f"provider {self.id}: nothing changed (the values were already stored)"
        text = f"updated provider {self.id}: {', '.join(self.changed)}"
        if "credentials" in self.changed or "base_url" in self.changed:
            text += f"; {self.tokens_dropped} cached carrier token(s) dropped"
        if "carrier_options" in self.changed:
            text += f"; options now {json.dumps(self.carrier_options, sort_keys=True)}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def changes_credentials(
    *, from_env: bool, credentials_file: Any
) -> Callable[[], dict[str, str]] | None:
    """The credentials source ``--credentials-from-env`` / ``--credentials-file F`` names."""
    if credentials_file is not None:
        return lambda: credentials_from_file(credentials_file)
    if from_env:

        def read_env() -> dict[str, str]:
            creds = credentials_from_env(os.environ)
            if creds is None:
                raise AdminError(
                    "--credentials-from-env: none of THINGSPACE_CLIENT_KEY, "
                    "THINGSPACE_CLIENT_SECRET, THINGSPACE_USERNAME, THINGSPACE_PASSWORD is set"
                )
            return creds

        return read_env
    return None


async def _drop_tokens(session: Any, provider: ServiceProvider) -> int:
    prefix = token_key_prefix(provider.base_url, provider.account_name) + ":"
    result = await session.execute(
        delete(CarrierToken).where(CarrierToken.key.startswith(prefix, autoescape=True))
    )
    return int(result.rowcount or 0)


async def update_provider(
    sessionmaker: Sessionmaker,
    *,
    provider_id: int,
    changes: ProviderChanges,
    credentials_key: str,
) -> UpdateResult:
    if changes.empty():
        raise AdminError(
            "nothing to change: pass --writes-enabled/--writes-disabled, "
            "--rate-limit-per-minute, --no-rate-limit, --base-url, --credentials-from-env, "
            "--credentials-file, --option or --clear-option"
        )
    values: dict[str, Any] = {}
    if changes.base_url is not None:
        values["base_url"] = check_url(changes.base_url).rstrip("/")
    if changes.credentials is not None:
        key = require_key(credentials_key)
        new_credentials = changes.credentials()
    async with unit_of_work(sessionmaker) as session:
        provider = await session.scalar(
            select(ServiceProvider).where(ServiceProvider.id == provider_id).with_for_update()
        )
        if provider is None:
            raise AdminError(f"provider {provider_id} does not exist")
        changed: list[str] = []
        if changes.write_enabled is not None and changes.write_enabled != provider.write_enabled:
            values["write_enabled"] = changes.write_enabled
        if (
            changes.rate_limit_per_minute is not _NOT_GIVEN
            and changes.rate_limit_per_minute != provider.rate_limit_per_minute
        ):
            values["rate_limit_per_minute"] = changes.rate_limit_per_minute
        if values.get("base_url") == provider.base_url:
            del values["base_url"]
        if changes.credentials is not None:
            values["credentials_encrypted"] = encrypt_json(key, new_credentials)
        if changes.options or changes.clear_options:
            options = check_options(
                provider.integration, changes.options_over(provider.carrier_options)
            )
            if options != (provider.carrier_options or {}):
                values["carrier_options"] = options
        changed = ["credentials" if k == "credentials_encrypted" else k for k in values]
        dropped = 0
        if "credentials_encrypted" in values or "base_url" in values:
            dropped = await _drop_tokens(session, provider)
        if values:
            await session.execute(
                update(ServiceProvider).where(ServiceProvider.id == provider_id).values(**values)
            )
        return UpdateResult(
            id=provider_id,
            changed=changed,
            tokens_dropped=dropped,
            write_enabled=values.get("write_enabled", provider.write_enabled),
            rate_limit_per_minute=values.get(
                "rate_limit_per_minute", provider.rate_limit_per_minute
            ),
            base_url=values.get("base_url", provider.base_url),
            carrier_options=dict(values.get("carrier_options", provider.carrier_options) or {}),
        )


# -- list-providers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderRow:
    """What an operator may see of a provider: nothing secret (no credential, no callback
    username, password or path secret), only whether they are set."""

    id: int
    name: str
    integration: str
    account_name: str
    base_url: str
    write_enabled: bool
    rate_limit_per_minute: int | None
    callback_registered: bool
    previous_callback_valid_until: datetime | None
    updated_at: datetime
    carrier_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderList:
    providers: list[ProviderRow] = field(default_factory=list)

    def summary(self) -> str:
        if not self.providers:
            return "no providers (add one with create-provider)"
        lines = []
        for p in self.providers:
            writes = "writes enabled" if p.write_enabled else "writes DISABLED"
            limit = f"{p.rate_limit_per_minute}/min" if p.rate_limit_per_minute else "no limit"
            callback = "callback registered" if p.callback_registered else "no callback"
            if p.previous_callback_valid_until is not None:
                until = p.previous_callback_valid_until.isoformat(timespec="seconds")
                callback += f" (previous credentials until {until})"
            options = json.dumps(p.carrier_options, sort_keys=True) if p.carrier_options else ""
            lines.append(
                f"{p.id}\t{p.name}\t{p.integration} {p.account_name} at {p.base_url}\t"
                f"{writes}, {limit}, {callback}"
                + (f"\toptions {options}" if options else "\tdefault options")
            )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"providers": [asdict(p) for p in self.providers]}


async def list_providers(sessionmaker: Sessionmaker) -> ProviderList:
    sp = ServiceProvider
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(
                    sp.id,
                    sp.name,
                    sp.integration,
                    sp.account_name,
                    sp.base_url,
                    sp.write_enabled,
                    sp.rate_limit_per_minute,
                    sp.callback_path_secret_sha256.is_not(None).label("callback_registered"),
                    sp.callback_previous_valid_until,
                    sp.updated_at,
                    sp.carrier_options,
                ).order_by(sp.id)
            )
        ).all()
    return ProviderList(
        [
            ProviderRow(
                id=r.id,
                name=r.name,
                integration=r.integration,
                account_name=r.account_name,
                base_url=r.base_url,
                write_enabled=r.write_enabled,
                rate_limit_per_minute=r.rate_limit_per_minute,
                callback_registered=bool(r.callback_registered),
                previous_callback_valid_until=r.callback_previous_valid_until,
                updated_at=r.updated_at,
                carrier_options=dict(r.carrier_options or {}),
            )
            for r in rows
        ]
    )
