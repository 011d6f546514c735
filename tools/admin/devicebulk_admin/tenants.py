"""`create-tenant`: add a tenant under the portal's id."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from devicebulk_admin.errors import AdminError
from devicebulk_admin.runtime import Sessionmaker
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import Tenant


@dataclass(frozen=True)
class TenantResult:
    id: int
    name: str
    notification_email: str | None
    created: bool

    def summary(self) -> str:
        if self.created:
            return f"created tenant {self.id} ({self.name})"
        return f"tenant {self.id} ({self.name}) already exists: nothing changed"


def check_email(email: str | None) -> str | None:
    if email is None:
        return None
    email = email.strip()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or " " in email or len(email) > 320:
        raise AdminError(f"{email!r} is not an email address")
    return email


async def create_tenant(
    sessionmaker: Sessionmaker,
    *,
    tenant_id: int,
    name: str,
    notification_email: str | None = None,
    if_not_exists: bool = False,
) -> TenantResult:
    """Insert the tenant; an existing id is an error, or a no-op with ``if_not_exists``."""
    name = name.strip()
    if not name:
        raise AdminError("the tenant name must not be empty")
    if tenant_id <= 0:
        raise AdminError("the tenant id must be a positive integer")
    email = check_email(notification_email)
    statement = (
        insert(Tenant)
        .values(id=tenant_id, name=name, notification_email=email)
        .on_conflict_do_nothing(index_elements=[Tenant.id])
        .returning(Tenant.id)
    )
    async with unit_of_work(sessionmaker) as session:
        inserted = (await session.execute(statement)).scalar_one_or_none()
        if inserted is not None:
            return TenantResult(tenant_id, name, email, created=True)
        existing = (
            await session.execute(select(Tenant).where(Tenant.id == tenant_id))
        ).scalar_one()
    if not if_not_exists:
        raise AdminError(
            f"tenant {tenant_id} already exists ({existing.name!r}); "
            "pass --if-not-exists to accept an existing tenant"
        )
    return TenantResult(existing.id, existing.name, existing.notification_email, created=False)


async def require_tenant(sessionmaker: Sessionmaker, tenant_id: int) -> None:
    async with sessionmaker() as session:
        found = (await session.execute(select(Tenant.id).where(Tenant.id == tenant_id))).first()
    if found is None:
        raise AdminError(f"tenant {tenant_id} does not exist (create it with create-tenant)")
