"""CREDENTIALS_KEY as a list (MultiFernet): the first key encrypts, every key decrypts."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from devicebulk_common.crypto import (
    CredentialsKeyError,
    check_key,
    decrypt_json,
    encrypt_json,
    reencrypt,
)

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
SECRET = {"password": "hunter2"}


def test_a_value_written_under_the_old_key_reads_with_the_list() -> None:
    stored = encrypt_json(OLD, SECRET)
    assert decrypt_json(f"{NEW},{OLD}", stored) == SECRET
    assert decrypt_json(f" {NEW} , {OLD} ", stored) == SECRET  # blanks around commas


def test_the_first_key_of_the_list_encrypts() -> None:
    stored = encrypt_json(f"{NEW},{OLD}", SECRET)
    assert decrypt_json(NEW, stored) == SECRET
    with pytest.raises(CredentialsKeyError):
        decrypt_json(OLD, stored)


def test_reencrypting_moves_a_value_to_the_first_key() -> None:
    rotated = reencrypt(f"{NEW},{OLD}", encrypt_json(OLD, SECRET))
    assert decrypt_json(NEW, rotated) == SECRET
    with pytest.raises(CredentialsKeyError, match="any key of CREDENTIALS_KEY"):
        decrypt_json(OLD, rotated)


def test_a_bad_key_in_the_list_is_named_by_position_never_by_value() -> None:
    with pytest.raises(CredentialsKeyError) as caught:
        check_key(f"{NEW},not-a-key-at-all")
    assert "key 2 of 2" in str(caught.value)
    assert "not-a-key-at-all" not in str(caught.value)
    with pytest.raises(CredentialsKeyError, match="not set"):
        check_key(" , ")
