"""`rotate-callback-credentials`: new callback username, password and path secret for a carrier
account, with no callback lost during the switch.

1. The new credentials become the provider's current ones and the ones the carrier has now
   (asked, and compared by the path secret's hash) its previous ones, accepted by the callback
   receivers until the grace period ends (a first, generous end). Normally those are the
   replaced current ones; after a rotation killed before step 3 they are the previous ones, so
   running the command again is always safe.
2. The command waits until every receiver has reloaded its listeners
   (``CALLBACKS_PROVIDER_CACHE_S``), so a callback with the new credentials is never refused.
3. The new URL and credentials are registered with the carrier. If the carrier refuses, the
   stored ones are put back as they were (the carrier never saw the new ones).
4. The grace period is set to end ``--grace`` after the carrier took the new registration:
   callbacks it queued before the switch still carry the old credentials and still count.

Afterwards the replaced credentials are recognised only to be refused (401, counted as
``expired`` in ``callbacks_auth_failed_total``) until the next rotation replaces them.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from devicebulk_admin.callbacks import CALLBACK_NAME, CALLBACK_PATH, callback_url, check_url_base
from devicebulk_admin.carrier import open_adapter
from devicebulk_admin.durations import describe
from devicebulk_admin.errors import AdminError
from devicebulk_admin.runtime import Sessionmaker, require_key
from devicebulk_common.carriers import CarrierAdapter, CarrierError
from devicebulk_common.crypto import digest, encrypt_json
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import ServiceProvider

# Past the wait and the carrier call, in case the command dies before step 4.
_STEP_MARGIN = timedelta(minutes=10)

_LISTENER_COLUMNS = (
    "callback_username",
    "callback_password_encrypted",
    "callback_path_secret_sha256",
    "callback_previous_username",
    "callback_previous_password_encrypted",
    "callback_previous_path_secret_sha256",
    "callback_previous_valid_until",
)


@dataclass(frozen=True)
class RotationResult:
    provider_id: int
    account_name: str
    url_masked: str
    username: str
    previous_valid_until: datetime
    grace: str

    def summary(self) -> str:
        return (
            f"rotated the callback credentials of provider {self.provider_id} (account "
            f"{self.account_name}): registered {self.url_masked} as user {self.username}; the "
            f"previous credentials are accepted for {self.grace}, until "
            f"{self.previous_valid_until.isoformat(timespec='seconds')}"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _CarrierListener:
    """Where the carrier calls us now: the URL base and the SHA-256 of the path secret."""

    url_base: str
    path_secret_sha256: str


async def _carrier_listener(adapter: CarrierAdapter, provider_id: int) -> _CarrierListener | None:
    prefix = CALLBACK_PATH.split("{secret}")[0].format(provider_id=provider_id)
    for registration in await adapter.list_callbacks():
        if registration.name != CALLBACK_NAME:
            continue
        base, found, secret = registration.url.rpartition(prefix)
        if found and base and secret:
            return _CarrierListener(base, digest(secret))
    return None


async def _register(adapter: CarrierAdapter, url: str, username: str, password: str) -> None:
    """Register, and when the answer is an error, ask the carrier whether it took the URL all
    the same (a lost answer): only a registration it does not have is a failure."""
    try:
        await adapter.register_callback(
            url=url, username=username, password=password, name=CALLBACK_NAME
        )
    except (CarrierError, httpx.HTTPError) as exc:
        try:
            registered = await adapter.list_callbacks()
        except (CarrierError, httpx.HTTPError):
            raise exc from None
        if not any(r.name == CALLBACK_NAME and r.url == url for r in registered):
            raise


async def _swap_in(
    sessionmaker: Sessionmaker,
    provider_id: int,
    new: dict[str, Any],
    *,
    force: bool,
    carrier_sha: str | None,
) -> dict[str, Any]:
    """Step 1, in one transaction on the locked row; returns the listener columns before.

    The credentials kept for the grace are the ones the carrier has: normally the current ones,
    but the previous ones if an earlier rotation stopped before the carrier took its new ones
    (``carrier_sha``, the carrier's path secret, says which)."""
    async with unit_of_work(sessionmaker) as session:
        provider = await session.scalar(
            select(ServiceProvider).where(ServiceProvider.id == provider_id).with_for_update()
        )
        if provider is None:
            raise AdminError(f"provider {provider_id} does not exist")
        if not (provider.callback_username and provider.callback_path_secret_sha256):
            raise AdminError(
                f"provider {provider_id} has no callback listener yet: use register-callback"
            )
        before = {column: getattr(provider, column) for column in _LISTENER_COLUMNS}
        until = provider.callback_previous_valid_until
        carrier_has_previous = (
            carrier_sha is not None
            and carrier_sha != provider.callback_path_secret_sha256
            and carrier_sha == provider.callback_previous_path_secret_sha256
        )
        if carrier_has_previous:
            keep = {c: before[c] for c in _LISTENER_COLUMNS if "_previous_" in c}
        else:
            keep = {
                "callback_previous_username": provider.callback_username,
                "callback_previous_password_encrypted": provider.callback_password_encrypted,
                "callback_previous_path_secret_sha256": provider.callback_path_secret_sha256,
            }
        if (
            until is not None
            and until > datetime.now(UTC)
            and not force
            and not carrier_has_previous
        ):
            raise AdminError(
                f"provider {provider_id}: the previous rotation's grace period runs until "
                f"{until.isoformat(timespec='seconds')}; rotating again now would drop the "
                "credentials it keeps (wait, or pass --force)"
            )
        await session.execute(
            update(ServiceProvider)
            .where(ServiceProvider.id == provider_id)
            .values(**{**keep, **new})
        )
    return before


async def _restore(sessionmaker: Sessionmaker, provider_id: int, before: dict[str, Any]) -> None:
    async with unit_of_work(sessionmaker) as session:
        await session.execute(
            update(ServiceProvider).where(ServiceProvider.id == provider_id).values(**before)
        )


async def rotate_callback_credentials(
    sessionmaker: Sessionmaker,
    *,
    provider_id: int,
    credentials_key: str,
    grace: timedelta,
    propagation_wait_s: float,
    url_base: str | None = None,
    force: bool = False,
) -> RotationResult:
    key = require_key(credentials_key)
    if url_base is not None:
        url_base = check_url_base(url_base)
    async with sessionmaker() as session:
        provider = await session.get(ServiceProvider, provider_id)
    if provider is None:
        raise AdminError(f"provider {provider_id} does not exist")
    username = f"devicebulk-{secrets.token_urlsafe(8)}"
    password = secrets.token_urlsafe(32)
    path_secret = secrets.token_urlsafe(32)
    async with open_adapter(provider, credentials_key=key) as adapter:
        try:
            listener = await _carrier_listener(adapter, provider_id)
        except (CarrierError, httpx.HTTPError):
            if url_base is None:
                raise
            listener = None  # the registration will tell whether the carrier answers
        if url_base is None:
            if listener is None:
                raise AdminError(
                    f"provider {provider_id}: the carrier has no {CALLBACK_NAME} listener of "
                    "ours; pass --url-base"
                )
            url_base = listener.url_base
        first_end = datetime.now(UTC) + grace + timedelta(seconds=propagation_wait_s)
        before = await _swap_in(
            sessionmaker,
            provider_id,
            {
                "callback_username": username,
                "callback_password_encrypted": encrypt_json(key, {"password": password}),
                "callback_path_secret_sha256": digest(path_secret),
                "callback_previous_valid_until": first_end + _STEP_MARGIN,
            },
            force=force,
            carrier_sha=listener.path_secret_sha256 if listener else None,
        )
        new_url = callback_url(url_base, provider_id, path_secret)
        try:
            if propagation_wait_s > 0:
                await asyncio.sleep(propagation_wait_s + 1.0)
            await _register(adapter, new_url, username, password)
        except BaseException:
            await asyncio.shield(_restore(sessionmaker, provider_id, before))
            raise
    valid_until = datetime.now(UTC) + grace
    async with unit_of_work(sessionmaker) as session:
        await session.execute(
            update(ServiceProvider)
            .where(ServiceProvider.id == provider_id)
            .values(callback_previous_valid_until=valid_until)
        )
    return RotationResult(
        provider_id=provider_id,
        account_name=provider.account_name,
        url_masked=callback_url(url_base, provider_id, "*" * 8),
        username=username,
        previous_valid_until=valid_until,
        grace=describe(grace),
    )
