"""A token issuer for the intake's auth tests: signing keys, their JWKS served over real HTTP
(``devicebulk_devstack.jwks_server``), and tokens signed as an issuer would, or as an attacker
would (``alg=none``, HS256 with the public key)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from devicebulk_devstack.jwks_server import JwksServer
from devicebulk_intake.settings import IntakeSettings

ISSUER = "https://login.example.test/tenant-realm"
AUDIENCE = "devicebulk-intake-api"
ALL_SCOPES = "bulk-changes:read bulk-changes:write bulk-changes:operate"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: Any
    jwk: dict[str, Any]

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def rsa_key(kid: str | None = None) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = kid or uuid.uuid4().hex[:12]
    jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(kid, "RS256", private, {**jwk, "kid": kid, "use": "sig", "alg": "RS256"})


def ec_key(kid: str | None = None) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    kid = kid or uuid.uuid4().hex[:12]
    jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(kid, "ES256", private, {**jwk, "kid": kid, "use": "sig", "alg": "ES256"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Issuer:
    """An identity provider: keys, published at ``jwks_url`` by a real HTTP server."""

    directory: Path
    key: SigningKey = field(default_factory=rsa_key)  # the key it signs with today
    server: JwksServer = field(init=False)

    def __post_init__(self) -> None:
        self.jwks_file = self.directory / "jwks.json"
        self.publish(self.key)
        self.server = JwksServer(self.jwks_file).start()

    @property
    def jwks_url(self) -> str:
        return self.server.url

    @property
    def fetches(self) -> int:
        return self.server.hits

    def publish(self, *keys: SigningKey) -> None:
        self.jwks_file.write_text(json.dumps({"keys": [k.jwk for k in keys]}))

    def claims(self, tenant: int, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-7f3a",
            "tenant_id": tenant,
            "scope": ALL_SCOPES,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, key: SigningKey, tenant: int, **overrides: Any) -> str:
        return jwt.encode(
            self.claims(tenant, **overrides), key.private, algorithm=key.alg,
            headers={"kid": key.kid},
        )  # fmt: skip

    def unsigned_token(self, key: SigningKey, tenant: int) -> str:
        """``alg=none``: no signature at all."""
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": key.kid}).encode())
        body = _b64(json.dumps(self.claims(tenant)).encode())
        return f"{header}.{body}."

    def hs256_with_public_key(self, key: SigningKey, tenant: int) -> str:
        """The classic confusion: HMAC-signed with the issuer's public key as the secret."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
        body = _b64(json.dumps(self.claims(tenant)).encode())
        mac = hmac.new(key.public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64(mac)}"

    def stop(self) -> None:
        self.server.stop()


def jwt_settings(database_url: str, jwks_url: str, **overrides: Any) -> IntakeSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "intake_max_devices": 1000,
        "auth_mode": "jwt",
        "auth_issuer": ISSUER,
        "auth_audience": AUDIENCE,
        "auth_jwks_url": jwks_url,
        "auth_leeway_s": 10,
    }
    return IntakeSettings(**(values | overrides))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
