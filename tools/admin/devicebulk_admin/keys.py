"""`rotate-credentials-key`: re-encrypt every stored secret with the first key of
``CREDENTIALS_KEY``, in one transaction.

The procedure (README, "Rotating the credentials key"): put ``NEW,OLD`` in ``CREDENTIALS_KEY``
everywhere (every service and this CLI) and restart, so every process decrypts both and
encrypts with the new one; run this command; then ``CREDENTIALS_KEY=NEW`` alone. Everything
encrypted at rest is re-encrypted: each provider's carrier credentials, its callback password
and the previous one a rotation keeps, and every cached carrier token. The rows are locked
while they are rewritten; if one does not decrypt with any of the keys nothing is changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select, update

from devicebulk_admin.errors import AdminError
from devicebulk_admin.runtime import Sessionmaker, require_key
from devicebulk_common.crypto import CredentialsKeyError, reencrypt, split_keys
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import CarrierToken, ServiceProvider

_PROVIDER_SECRETS = (
    "credentials_encrypted",
    "callback_password_encrypted",
    "callback_previous_password_encrypted",
)


@dataclass(frozen=True)
class KeyRotationResult:
    keys_in_use: int
    provider_credentials: int
    callback_passwords: int
    cached_tokens: int

    def summary(self) -> str:
        text = (
            f"re-encrypted with the first of {self.keys_in_use} key(s) in CREDENTIALS_KEY: "
            f"{self.provider_credentials} provider credential(s), {self.callback_passwords} "
            f"callback password(s), {self.cached_tokens} cached carrier token(s)"
        )
        if self.keys_in_use > 1:
            text += (
                "; the other keys can now be removed from CREDENTIALS_KEY once every process "
                "runs with the first one first"
            )
        return text

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rotated(key: str, token: str, what: str) -> str:
    try:
        return reencrypt(key, token)
    except CredentialsKeyError:
        raise AdminError(
            f"{what} does not decrypt with any key of CREDENTIALS_KEY: nothing was changed "
            "(add the key it was written with to the list and run again)"
        ) from None


async def rotate_credentials_key(
    sessionmaker: Sessionmaker, *, credentials_key: str
) -> KeyRotationResult:
    key = require_key(credentials_key)
    credentials = callbacks = tokens = 0
    async with unit_of_work(sessionmaker) as session:
        providers = (
            await session.execute(
                select(
                    ServiceProvider.id, *(getattr(ServiceProvider, c) for c in _PROVIDER_SECRETS)
                )
                .order_by(ServiceProvider.id)
                .with_for_update()
            )
        ).all()
        for row in providers:
            values = {}
            for column in _PROVIDER_SECRETS:
                stored = getattr(row, column)
                if stored:
                    values[column] = _rotated(key, stored, f"provider {row.id}'s {column}")
            credentials += "credentials_encrypted" in values
            callbacks += sum(c in values for c in _PROVIDER_SECRETS[1:])
            if values:
                await session.execute(
                    update(ServiceProvider).where(ServiceProvider.id == row.id).values(**values)
                )
        cached = (
            await session.execute(
                select(CarrierToken.key, CarrierToken.value_encrypted)
                .order_by(CarrierToken.key)
                .with_for_update()
            )
        ).all()
        for token in cached:
            await session.execute(
                update(CarrierToken)
                .where(CarrierToken.key == token.key)
                .values(
                    value_encrypted=_rotated(
                        key, token.value_encrypted, f"the cached carrier token {token.key!r}"
                    )
                )
            )
            tokens += 1
    return KeyRotationResult(
        keys_in_use=len(split_keys(key)),
        provider_credentials=credentials,
        callback_passwords=callbacks,
        cached_tokens=tokens,
    )
