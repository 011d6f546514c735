"""Development mode (``AUTH_MODE=dev``): the caller names its tenant in ``X-Tenant-Id`` and
itself in ``X-User-Email``, unverified, and holds every scope. For local work and tests only:
any caller can name any tenant. It replaces :func:`~devicebulk_intake.auth.caller.authenticate`
(a dependency override), so the OpenAPI still documents the bearer scheme production uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request

from devicebulk_common.models import bounds
from devicebulk_intake.auth.caller import SCOPES, Caller, load_tenant
from devicebulk_intake.errors import Unauthenticated


async def dev_caller(
    request: Request,
    x_tenant_id: Annotated[int | None, Header(ge=bounds.ID_MIN, le=bounds.ID_MAX)] = None,
    x_user_email: Annotated[str | None, Header(max_length=bounds.ACTOR_MAX)] = None,
) -> Caller:
    if x_tenant_id is None:
        raise Unauthenticated("Development mode: send the tenant id in the X-Tenant-Id header.")
    tenant = await load_tenant(request, x_tenant_id)
    if tenant is None:
        raise Unauthenticated(f"Tenant {x_tenant_id} does not exist.")
    return Caller(tenant=tenant, subject=x_user_email, email=x_user_email, scopes=frozenset(SCOPES))
