"""Who is calling. Until authentication arrives the tenant comes from ``X-Tenant-Id``
(development only: any caller can name any tenant)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common.models import Tenant, bounds
from devicebulk_intake.deps import get_session
from devicebulk_intake.errors import Unauthenticated


async def current_tenant(
    session: Annotated[AsyncSession, Depends(get_session)],
    x_tenant_id: Annotated[
        int | None,
        Header(
            ge=bounds.ID_MIN,
            le=bounds.ID_MAX,
            description="The caller's tenant id. Development only, until authentication.",
        ),
    ] = None,
) -> Tenant:
    if x_tenant_id is None:
        raise Unauthenticated("Send the tenant id in the X-Tenant-Id header.")
    tenant = await session.get(Tenant, x_tenant_id)
    if tenant is None:
        raise Unauthenticated(f"Tenant {x_tenant_id} does not exist.")
    return tenant


async def current_user(
    x_user_email: Annotated[
        str | None,
        Header(
            max_length=bounds.USER_EMAIL_MAX,
            description="The operator's e-mail address: who created the change, and where "
            "its completion report goes. Development only, until authentication.",
        ),
    ] = None,
) -> str | None:
    return x_user_email


CurrentTenant = Annotated[Tenant, Depends(current_tenant)]
CurrentUser = Annotated[str | None, Depends(current_user)]
