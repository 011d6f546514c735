"""The issuer's key set: fetched once and kept, refetched at most once a minute for a key it
does not hold, and kept through a failed fetch (a real JWKS server, a controlled clock)."""

from __future__ import annotations

import httpx
import pytest
from intake_auth_helpers import Issuer, rsa_key

from devicebulk_intake.auth.jwks import JwksCache, KeysUnavailable, UnknownKey


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def test_unknown_kids_refetch_at_most_once_a_minute(issuer: Issuer, http):
    clock = Clock()
    keys = JwksCache(issuer.jwks_url, client=http, max_age_s=3600, refetch_s=60, clock=clock)
    assert (await keys.key(issuer.key.kid))["kid"] == issuer.key.kid
    assert issuer.fetches == 1

    for _ in range(5):  # a burst of made-up kids: one refetch
        with pytest.raises(UnknownKey):
            await keys.key("made-up")
    assert issuer.fetches == 2

    rotated = rsa_key()
    issuer.publish(rotated)
    clock.now += 30
    with pytest.raises(UnknownKey):  # within the minute of the last refetch
        await keys.key(rotated.kid)
    assert issuer.fetches == 2
    clock.now += 31
    assert (await keys.key(rotated.kid))["kid"] == rotated.kid  # a minute on: refetched
    assert issuer.fetches == 3


async def test_the_set_is_refreshed_when_old_and_kept_when_the_refresh_fails(issuer: Issuer, http):
    clock = Clock()
    keys = JwksCache(issuer.jwks_url, client=http, max_age_s=3600, refetch_s=60, clock=clock)
    await keys.key(issuer.key.kid)
    issuer.jwks_file.unlink()  # the issuer answers 503 from now on
    clock.now += 3601
    assert (await keys.key(issuer.key.kid))["kid"] == issuer.key.kid  # the old set, kept
    assert issuer.fetches == 2


async def test_a_set_never_fetched_is_unavailable(issuer: Issuer, http):
    issuer.jwks_file.unlink()
    keys = JwksCache(issuer.jwks_url, client=http, max_age_s=3600, refetch_s=60)
    with pytest.raises(KeysUnavailable):
        await keys.key(issuer.key.kid)


async def test_symmetric_and_encryption_keys_are_never_used(issuer: Issuer, http):
    issuer.jwks_file.write_text(
        '{"keys": [{"kty": "oct", "kid": "shared", "k": "c2VjcmV0"},'
        ' {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}]}'
    )
    keys = JwksCache(issuer.jwks_url, client=http, max_age_s=3600, refetch_s=60)
    for kid in ("shared", "enc"):
        with pytest.raises(UnknownKey):
            await keys.key(kid)
