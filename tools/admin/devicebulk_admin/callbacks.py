"""`register-callback`: give a carrier account fresh callback credentials and register our URL.

The URL carries a random path secret (we keep only its SHA-256); ThingSpace echoes the
username and password in every callback body (we keep the password encrypted). The carrier
is called first; the new credentials are stored only once it accepted them, so a refused
registration leaves the stored ones as they were.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import update

from devicebulk_admin.carrier import open_adapter
from devicebulk_admin.errors import AdminError
from devicebulk_admin.providers import load_provider
from devicebulk_admin.runtime import Sessionmaker, require_key
from devicebulk_common.crypto import digest, encrypt_json
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import ServiceProvider

CALLBACK_PATH = "/callbacks/thingspace/{provider_id}/{secret}"
CALLBACK_NAME = "CarrierService"


@dataclass(frozen=True)
class CallbackResult:
    provider_id: int
    account_name: str
    name: str
    url_masked: str
    username: str

    def summary(self) -> str:
        return (
            f"registered {self.name} callback for provider {self.provider_id} (account "
            f"{self.account_name}): {self.url_masked} as user {self.username}; "
            "credentials stored"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def callback_url(url_base: str, provider_id: int, secret: str) -> str:
    return url_base.rstrip("/") + CALLBACK_PATH.format(provider_id=provider_id, secret=secret)


def check_url_base(url_base: str) -> str:
    url = urlsplit(url_base)
    if url.scheme not in ("http", "https") or not url.netloc or url.query or url.fragment:
        raise AdminError(f"--url-base {url_base!r} must be an http(s) URL without query")
    return url_base.rstrip("/")


async def register_callback(
    sessionmaker: Sessionmaker,
    *,
    provider_id: int,
    url_base: str,
    credentials_key: str,
    name: str = CALLBACK_NAME,
) -> CallbackResult:
    url_base = check_url_base(url_base)
    key = require_key(credentials_key)
    provider = await load_provider(sessionmaker, provider_id)
    username = f"devicebulk-{secrets.token_urlsafe(8)}"
    password = secrets.token_urlsafe(32)
    path_secret = secrets.token_urlsafe(32)
    async with open_adapter(provider, credentials_key=key) as adapter:
        await adapter.register_callback(
            url=callback_url(url_base, provider_id, path_secret),
            username=username,
            password=password,
            name=name,
        )
    async with unit_of_work(sessionmaker) as session:
        await session.execute(
            update(ServiceProvider)
            .where(ServiceProvider.id == provider_id)
            .values(
                callback_username=username,
                callback_password_encrypted=encrypt_json(key, {"password": password}),
                callback_path_secret_sha256=digest(path_secret),
                # A fresh registration keeps no earlier credentials (rotate-callback-credentials
                # is the switch that keeps them for a grace period).
                callback_previous_username=None,
                callback_previous_password_encrypted=None,
                callback_previous_path_secret_sha256=None,
                callback_previous_valid_until=None,
            )
        )
    return CallbackResult(
        provider_id=provider_id,
        account_name=provider.account_name,
        name=name,
        url_masked=callback_url(url_base, provider_id, "*" * 8),
        username=username,
    )
