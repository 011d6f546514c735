"""The callback credentials of each carrier account, cached briefly (every callback needs them).

A provider's listener has its current credentials (username, password, path secret) and, after
a rotation, the previous ones with the end of their grace period: until then both are accepted
(in any combination: the carrier may resend a callback it queued before the switch to either
address), afterwards the previous ones are recognised only to be refused as ``expired``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.crypto import decrypt_json, digest, equal
from devicebulk_common.models import ServiceProvider


class AuthFailure(StrEnum):
    """Why a callback was refused: the ``reason`` label of ``callbacks_auth_failed_total``."""

    PATH_SECRET = "path_secret"  # the URL's secret matches none of the provider's
    CREDENTIALS = "credentials"  # the body's username and password match none
    EXPIRED = "expired"  # they are the ones a rotation replaced, past its grace period


@dataclass(frozen=True)
class Secrets:
    username: str
    password: str
    path_secret_sha256: str

    def path_ok(self, secret: str) -> bool:
        return equal(digest(secret), self.path_secret_sha256)

    def body_ok(self, username: str, password: str) -> bool:
        # Both compared in constant time, and both always compared.
        return equal(username, self.username) & equal(password, self.password)


@dataclass(frozen=True)
class CallbackCredentials:
    provider_id: int
    current: Secrets
    previous: Secrets | None = None
    previous_valid_until: datetime | None = None
    # The provider's integration: it picks the parser of the callback's body.
    integration: str = ""

    def _previous_live(self, now: datetime | None) -> bool:
        until = self.previous_valid_until
        return until is not None and (now or datetime.now(UTC)) < until

    def check_path(self, secret: str, now: datetime | None = None) -> AuthFailure | None:
        """None if the URL's secret is one this listener accepts now, else why not."""
        current = self.current.path_ok(secret)
        previous = self.previous is not None and self.previous.path_ok(secret)
        if current or (previous and self._previous_live(now)):
            return None
        return AuthFailure.EXPIRED if previous else AuthFailure.PATH_SECRET

    def check_body(
        self, username: str, password: str, now: datetime | None = None
    ) -> AuthFailure | None:
        """None if the body's credentials are ones this listener accepts now, else why not."""
        current = self.current.body_ok(username, password)
        previous = self.previous is not None and self.previous.body_ok(username, password)
        if current or (previous and self._previous_live(now)):
            return None
        return AuthFailure.EXPIRED if previous else AuthFailure.CREDENTIALS


class CredentialStore:
    """Every provider's listener credentials, held as one snapshot reloaded (one query, one
    reload at a time) when older than ``ttl_s``.

    A path naming an id no provider has costs no database work: the snapshot answers it, so
    made-up ids neither query the database nor grow a cache. The snapshot is bounded by what
    operators registered (``service_provider`` rows with a listener), never by what comes in.
    If the reload fails (the database is away), :meth:`get` raises and the caller answers 503.
    """

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, key: str, ttl_s: float
    ) -> None:
        self._sessionmaker = sessionmaker
        self._key = key
        self._ttl_s = ttl_s
        self._snapshot: dict[int, CallbackCredentials] = {}
        self._expires = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, provider_id: int) -> CallbackCredentials | None:
        if self._expires <= time.monotonic():
            async with self._lock:
                if self._expires <= time.monotonic():  # nobody reloaded while we waited
                    started = time.monotonic()
                    self._snapshot = await self._load()
                    self._expires = started + self._ttl_s
        return self._snapshot.get(provider_id)

    def _password(self, encrypted: str) -> str:
        return str(decrypt_json(self._key, encrypted)["password"])

    async def _load(self) -> dict[int, CallbackCredentials]:
        sp = ServiceProvider
        async with self._sessionmaker() as session:
            rows = (
                await session.execute(
                    select(
                        sp.id,
                        sp.integration,
                        sp.callback_username,
                        sp.callback_password_encrypted,
                        sp.callback_path_secret_sha256,
                        sp.callback_previous_username,
                        sp.callback_previous_password_encrypted,
                        sp.callback_previous_path_secret_sha256,
                        sp.callback_previous_valid_until,
                    ).where(
                        sp.callback_username.is_not(None),
                        sp.callback_username != "",
                        sp.callback_password_encrypted.is_not(None),
                        sp.callback_path_secret_sha256.is_not(None),
                    )
                )
            ).all()
        snapshot = {}
        for row in rows:
            previous = None
            if (
                row.callback_previous_username
                and row.callback_previous_password_encrypted
                and row.callback_previous_path_secret_sha256
                and row.callback_previous_valid_until is not None
            ):
                previous = Secrets(
                    row.callback_previous_username,
                    self._password(row.callback_previous_password_encrypted),
                    row.callback_previous_path_secret_sha256,
                )
            snapshot[row.id] = CallbackCredentials(
                provider_id=row.id,
                current=Secrets(
                    row.callback_username,
                    self._password(row.callback_password_encrypted),
                    row.callback_path_secret_sha256,
                ),
                previous=previous,
                previous_valid_until=row.callback_previous_valid_until if previous else None,
                integration=row.integration,
            )
        return snapshot
