"""`devicebulk-admin dev-token`: a bearer token for the local stack, signed with a local key.

The key is made once, in ``--key-dir`` (default ``var/dev-jwt/``): ``signing-key.pem`` (the
private key, RS256, mode 0600) and ``jwks.json`` (its public half, which `make run` serves to the
intake as its issuer's JWKS). The token carries what a real issuer's would: ``iss``, ``aud``,
``sub``, the tenant claim, ``scope``, ``email`` (optional), ``iat``, ``nbf`` and ``exp``.
For local work only: production tokens come from the identity provider the intake trusts.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from devicebulk_admin.errors import AdminError

COMMAND = "dev-token"
# The local stack's issuer and audience (`make run` starts the intake with the same).
DEV_ISSUER = "devicebulk-dev"
DEV_AUDIENCE = "devicebulk-intake"
DEFAULT_KEY_DIR = Path("var/dev-jwt")
KEY_FILE, JWKS_FILE = "signing-key.pem", "jwks.json"
ALGORITHM = "RS256"
ALL_SCOPES = "bulk-changes:read bulk-changes:write bulk-changes:operate"
MAX_TTL_S = 7 * 24 * 3600


@dataclass(frozen=True)
class DevKey:
    private_key: rsa.RSAPrivateKey
    kid: str


def thumbprint(jwk: dict[str, Any]) -> str:
    """The key's RFC 7638 thumbprint: its ``kid``."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def public_jwk(private_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return {**jwk, "kid": thumbprint(jwk), "use": "sig", "alg": ALGORITHM}


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def ensure_key(key_dir: Path) -> DevKey:
    """The local signing key, made (with its JWKS) on first use."""
    key_path, jwks_path = key_dir / KEY_FILE, key_dir / JWKS_FILE
    if key_path.exists():
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise AdminError(f"{key_path} is not an RSA private key")
        private_key = loaded
    else:
        key_dir.mkdir(parents=True, exist_ok=True)
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write(key_path, pem, 0o600)
    jwk = public_jwk(private_key)
    if not jwks_path.exists() or jwk["kid"] not in jwks_path.read_text():
        _write(jwks_path, json.dumps({"keys": [jwk]}, indent=2).encode(), 0o644)
    return DevKey(private_key, jwk["kid"])


def issue(
    key: DevKey,
    *,
    tenant: int,
    scope: str,
    subject: str,
    email: str | None = None,
    ttl_s: int = 3600,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    tenant_claim: str = "tenant_id",
    now: float | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        tenant_claim: tenant,
        "scope": " ".join(scope.split()),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
        "jti": str(uuid.uuid4()),
    }
    if email:
        claims["email"] = email
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def add_parser(sub: Any, positive: Any) -> None:
    p = sub.add_parser(
        COMMAND,
        help="print a bearer token for the local stack (signed with var/dev-jwt/)",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--tenant", type=positive, required=True, help="the tenant id claim")
    p.add_argument("--scope", default=ALL_SCOPES, help=f'space-separated (default "{ALL_SCOPES}")')
    p.add_argument("--email", help="where the completion reports go (else the tenant's address)")
    p.add_argument("--subject", help="the caller's sub (default: the e-mail, else dev-operator)")
    p.add_argument("--ttl", type=positive, default=3600, help="seconds it is valid (default 3600)")
    p.add_argument("--key-dir", type=Path, default=DEFAULT_KEY_DIR)
    p.add_argument("--issuer", default=DEV_ISSUER)
    p.add_argument("--audience", default=DEV_AUDIENCE)
    p.add_argument("--tenant-claim", default="tenant_id")


def run(args: argparse.Namespace) -> str:
    if args.ttl > MAX_TTL_S:
        raise AdminError(f"--ttl is at most {MAX_TTL_S} seconds (a week)")
    return issue(
        ensure_key(args.key_dir),
        tenant=args.tenant,
        scope=args.scope,
        subject=args.subject or args.email or "dev-operator",
        email=args.email,
        ttl_s=args.ttl,
        issuer=args.issuer,
        audience=args.audience,
        tenant_claim=args.tenant_claim,
    )
