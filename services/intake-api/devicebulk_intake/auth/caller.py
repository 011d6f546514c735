"""The caller of a request, as the routes see it, and the dependency that establishes it.

Every API route takes a :class:`Caller` through ``Security(authenticate, scopes=[...])`` (the
aliases in ``devicebulk_intake.tenancy``), so the OpenAPI shows the bearer scheme and the scope
each operation needs, and a route without one is caught by the route-table isolation test.
:func:`install` binds the dependency to the settings: in ``jwt`` mode the token is checked
against the issuer's JWKS (``app.state.jwks``, opened in the lifespan by :func:`open_keys`); in
``dev`` mode :func:`devicebulk_intake.auth.dev.dev_caller` takes its place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import httpx
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from devicebulk_common.models import Tenant
from devicebulk_intake.auth.jwks import JwksCache, KeysUnavailable
from devicebulk_intake.auth.tokens import TokenError, TokenRules, verify
from devicebulk_intake.errors import (
    AuthUnavailable,
    InsufficientScope,
    InvalidToken,
    Unauthenticated,
)
from devicebulk_intake.settings import IntakeSettings

READ = "bulk-changes:read"
WRITE = "bulk-changes:write"  # submit, validate, CSV upload
OPERATE = "bulk-changes:operate"  # retry, cancel
SCOPES = {
    READ: "Read the tenant's bulk changes, their devices, audit trails and results.",
    WRITE: "Submit bulk changes (JSON or CSV) and dry-run them.",
    OPERATE: "Retry the failed devices of a bulk change, or cancel what has not run.",
}
KEYS_RETRY_AFTER_S = 5
log = structlog.get_logger(__name__)

bearer = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An OAuth 2.0 access token (a JWT) from the configured issuer: signed with one "
    "of its JWKS keys (asymmetric algorithms only), for this API's audience, naming the tenant "
    "in the tenant claim and the caller in `sub`. Scopes (`scope` or `scp`): "
    + "; ".join(f"`{name}` ({text.rstrip('.')})" for name, text in SCOPES.items())
    + ".",
    auto_error=False,
)


@dataclass(frozen=True)
class Caller:
    """Who is calling: their tenant, their subject (``created_by``, the audit's actor), the
    address their reports go to (None: the tenant's), and the scopes they hold."""

    tenant: Tenant
    subject: str | None
    email: str | None
    scopes: frozenset[str]

    @property
    def actor(self) -> str:
        return self.subject or "operator"


async def load_tenant(request: Request, tenant_id: int) -> Tenant | None:
    """The tenant row, read in a session of its own (no connection held for the request)."""
    async with request.app.state.sessionmaker() as session:
        return await session.get(Tenant, tenant_id)


async def authenticate(
    request: Request,
    security_scopes: SecurityScopes,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None:
        raise Unauthenticated("Send an access token: Authorization: Bearer <JWT>.")
    rules: TokenRules = request.app.state.token_rules
    try:
        claims = await verify(credentials.credentials, request.app.state.jwks, rules)
    except TokenError as exc:
        log.info("bearer token refused", reason=str(exc), path=request.url.path)
        raise InvalidToken(f"The bearer token is refused: {exc}.") from None
    except KeysUnavailable:
        raise AuthUnavailable(
            "The token issuer's keys cannot be fetched right now; try again shortly.",
            retry_after=KEYS_RETRY_AFTER_S,
        ) from None
    tenant = await load_tenant(request, claims.tenant_id)
    if tenant is None:
        raise InvalidToken(
            f"The bearer token is refused: its tenant {claims.tenant_id} does not exist."
        )
    for scope in security_scopes.scopes:
        if scope not in claims.scopes:
            raise InsufficientScope(scope)
    structlog.contextvars.bind_contextvars(tenant_id=tenant.id, subject=claims.subject)
    return Caller(tenant=tenant, subject=claims.subject, email=claims.email, scopes=claims.scopes)


def install(app: FastAPI, settings: IntakeSettings) -> None:
    """Bind authentication to the settings (before the app serves anything)."""
    if settings.auth_mode == "dev":
        from devicebulk_intake.auth.dev import dev_caller

        log.warning("AUTH_MODE=dev: callers name their tenant in X-Tenant-Id, unverified")
        app.dependency_overrides[authenticate] = dev_caller
        return
    assert settings.auth_issuer and settings.auth_audience  # IntakeSettings checked them
    app.state.token_rules = TokenRules(
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        algorithms=settings.algorithms,
        leeway_s=settings.auth_leeway_s,
        tenant_claim=settings.auth_tenant_claim,
    )


@asynccontextmanager
async def open_keys(app: FastAPI, settings: IntakeSettings) -> AsyncIterator[None]:
    """The issuer's JWKS for the app's lifetime (``jwt`` mode); fetched on first use."""
    if settings.auth_mode != "jwt":
        yield
        return
    assert settings.auth_jwks_url
    async with httpx.AsyncClient(timeout=settings.auth_jwks_timeout_s) as client:
        app.state.jwks = JwksCache(
            settings.auth_jwks_url,
            client=client,
            max_age_s=settings.auth_jwks_max_age_s,
            refetch_s=settings.auth_jwks_refetch_s,
        )
        yield
