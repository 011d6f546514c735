"""One bearer token: its signature against the issuer's key, then its claims.

Checked with PyJWT: the header's ``alg`` must be on the allow-list (asymmetric only) and match
the key's; the signature; ``iss``, ``aud``; ``exp`` and ``nbf`` with a small leeway (``exp`` is
required). Then the claims we read: the subject (``sub``, required), the tenant (the configured
claim, an int4 id), the e-mail (``email``, optional) and the scopes (``scope``, space-separated,
or ``scp``, a list or a space-separated string).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from devicebulk_common.models import bounds
from devicebulk_intake.auth.jwks import JwksCache, UnknownKey

MAX_TOKEN_CHARS = 8 * 1024


class TokenError(Exception):
    """Why the token is refused (shown to the caller: it names no secret)."""


@dataclass(frozen=True)
class TokenRules:
    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    leeway_s: float
    tenant_claim: str


@dataclass(frozen=True)
class Claims:
    subject: str
    tenant_id: int
    email: str | None
    scopes: frozenset[str]


def _header(token: str) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError(f"the token is longer than {MAX_TOKEN_CHARS} characters")
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("the token is not a well-formed JWT") from None


async def verify(token: str, keys: JwksCache, rules: TokenRules) -> Claims:
    header = _header(token)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in rules.algorithms:
        raise TokenError(
            f"the token's algorithm {str(alg)[:20]!r} is not accepted "
            f"(accepted: {', '.join(rules.algorithms)})"
        )
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenError("the token's kid is not a string")
    try:
        jwk = await keys.key(kid)
    except UnknownKey as exc:
        raise TokenError(str(exc)[:200]) from None
    if jwk.get("alg") not in (None, alg):
        raise TokenError(f"the key {kid!r} is for {jwk.get('alg')!r}, not {alg!r}")
    try:
        key = jwt.PyJWK(jwk, algorithm=alg)
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        raise TokenError(f"the issuer's key {kid!r} cannot check an {alg} signature") from None
    try:
        payload = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=rules.audience,
            issuer=rules.issuer,
            leeway=rules.leeway_s,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("the token is not valid yet (nbf)") from None
    except jwt.InvalidIssuerError:
        raise TokenError("the token is from another issuer") from None
    except jwt.InvalidAudienceError:
        raise TokenError("the token is for another audience") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"the token has no {exc.claim!r} claim") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"the token is invalid ({type(exc).__name__})") from None
    return read_claims(payload, rules.tenant_claim)


def read_claims(payload: dict[str, Any], tenant_claim: str) -> Claims:
    subject = payload.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise TokenError("the token's sub is not a string")
    if len(subject) > bounds.ACTOR_MAX:
        raise TokenError(f"the token's sub is longer than {bounds.ACTOR_MAX} characters")
    email = payload.get("email")
    if email is not None and (not isinstance(email, str) or len(email) > bounds.USER_EMAIL_MAX):
        raise TokenError(f"the token's email is not a string of at most {bounds.USER_EMAIL_MAX}")
    return Claims(
        subject=subject,
        tenant_id=_tenant_id(payload.get(tenant_claim), tenant_claim),
        email=email or None,
        scopes=_scopes(payload),
    )


def _tenant_id(value: Any, claim: str) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TokenError(f"the token's {claim!r} claim is not a tenant id")
    if not bounds.ID_MIN <= value <= bounds.ID_MAX:
        raise TokenError(f"the token's {claim!r} claim is out of range")
    return value


def _scopes(payload: dict[str, Any]) -> frozenset[str]:
    granted: set[str] = set()
    for name in ("scope", "scp"):
        value = payload.get(name)
        if isinstance(value, str):
            granted.update(value.split())
        elif isinstance(value, list):
            granted.update(v for v in value if isinstance(v, str))
    return frozenset(granted)
