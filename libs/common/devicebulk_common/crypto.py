"""Encryption of carrier credentials at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key is ``CREDENTIALS_KEY``: one Fernet key, or several separated by commas while a key is
being rotated (``MultiFernet``): the first encrypts, every one of them decrypts. Rotation is
``new,old`` everywhere, then ``devicebulk-admin rotate-credentials-key`` (re-encrypts every
stored secret with the first), then ``new`` alone.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class CredentialsKeyError(RuntimeError):
    """The credentials key is missing or cannot decrypt what is stored."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def split_keys(key: str) -> list[str]:
    """The keys of a ``CREDENTIALS_KEY`` value, in order (blanks around commas ignored)."""
    return [part.strip() for part in key.split(",") if part.strip()]


@lru_cache(maxsize=16)
def _fernet(key: str) -> MultiFernet:
    keys = split_keys(key)
    if not keys:
        raise CredentialsKeyError(
            "CREDENTIALS_KEY is not set: generate one with `devicebulk-admin new-credentials-key`"
        )
    fernets = []
    for position, part in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(part.encode()))
        except (ValueError, binascii.Error):
            # Never the value itself: it is a secret, even when it is a wrong one.
            raise CredentialsKeyError(
                f"CREDENTIALS_KEY: key {position} of {len(keys)} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)"
            ) from None
    return MultiFernet(fernets)


def check_key(key: str) -> str:
    """``key`` if every key in it is a usable Fernet key, else :class:`CredentialsKeyError`."""
    _fernet(key)
    return key


def encrypt_json(key: str, value: dict[str, Any]) -> str:
    return _fernet(key).encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(key: str, token: str) -> dict[str, Any]:
    try:
        return json.loads(_fernet(key).decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsKeyError(
            "stored credentials do not decrypt with any key of CREDENTIALS_KEY"
        ) from exc


def reencrypt(key: str, token: str) -> str:
    """``token`` decrypted with any key of ``key`` and encrypted again with its first."""
    try:
        return _fernet(key).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialsKeyError(
            "stored credentials do not decrypt with any key of CREDENTIALS_KEY"
        ) from exc


def digest(value: str) -> str:
    """A SHA-256 hex digest, for secrets we only ever compare (callback path secrets)."""
    return hashlib.sha256(value.encode()).hexdigest()


def equal(a: str, b: str) -> bool:
    """Constant-time comparison of two strings."""
    return hmac.compare_digest(a.encode(), b.encode())
