"""Encryption of carrier credentials at rest (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class CredentialsKeyError(RuntimeError):
    """The credentials key is missing or cannot decrypt what is stored."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def _fernet(key: str) -> Fernet:
    if not key:
        raise CredentialsKeyError(
            "CREDENTIALS_KEY is not set: generate one with `devicebulk-admin new-credentials-key`"
        )
    return Fernet(key.encode())


def encrypt_json(key: str, value: dict[str, Any]) -> str:
    return _fernet(key).encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(key: str, token: str) -> dict[str, Any]:
    try:
        return json.loads(_fernet(key).decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsKeyError("stored credentials do not decrypt with CREDENTIALS_KEY") from exc


def digest(value: str) -> str:
    """A SHA-256 hex digest, for secrets we only ever compare (callback path secrets)."""
    return hashlib.sha256(value.encode()).hexdigest()


def equal(a: str, b: str) -> bool:
    """Constant-time comparison of two strings."""
    return hmac.compare_digest(a.encode(), b.encode())
