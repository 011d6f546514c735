"""The catalogue: carrier rate plans (a provider's), Rev customers, customer rate plans and
customer rate pools (a tenant's). Create, update and list each; what change types 1, 4 and 7
check a device's new value against.

ThingSpace's API (as docs/thingspace.md describes it) has no service-plan list, so carrier
rate plans are entered here rather than synced from the carrier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from devicebulk_admin.errors import AdminError
from devicebulk_admin.providers import load_provider
from devicebulk_admin.runtime import Sessionmaker
from devicebulk_admin.tenants import require_tenant
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import (
    CarrierRatePlan,
    CustomerRatePlan,
    CustomerRatePool,
    RevCustomer,
)

INT4_MAX = 2**31 - 1
NAME_MAX = 200


@dataclass(frozen=True)
class Kind:
    """One catalogue table: who owns its rows, and the key an operator names a row by."""

    name: str  # "carrier rate plan"
    model: Any
    owner: str  # "tenant" or "provider"
    key_column: str  # "code" or "id"
    key_max: int | None = None  # string keys: the column's length; None: an int4 id

    @property
    def owner_column(self) -> str:
        return "service_provider_id" if self.owner == "provider" else "tenant_id"


CARRIER_RATE_PLAN = Kind("carrier rate plan", CarrierRatePlan, "provider", "code", key_max=100)
REV_CUSTOMER = Kind("Rev customer", RevCustomer, "tenant", "id", key_max=50)
CUSTOMER_RATE_PLAN = Kind("customer rate plan", CustomerRatePlan, "tenant", "id")
CUSTOMER_RATE_POOL = Kind("customer rate pool", CustomerRatePool, "tenant", "id")
KINDS: dict[str, Kind] = {
    "carrier-rate-plan": CARRIER_RATE_PLAN,
    "rev-customer": REV_CUSTOMER,
    "customer-rate-plan": CUSTOMER_RATE_PLAN,
    "customer-rate-pool": CUSTOMER_RATE_POOL,
}


@dataclass(frozen=True)
class Entry:
    kind: str
    owner_id: int
    key: str | int
    name: str | None
    is_active: bool
    changed: bool = True

    def summary(self) -> str:
        state = "active" if self.is_active else "inactive"
        return f"{self.kind} {self.key} ({self.name or '-'}, {state})"


@dataclass(frozen=True)
class Result:
    verb: str  # "created", "updated", "kept"
    entry: Entry

    def summary(self) -> str:
        return f"{self.verb} {self.entry.summary()}"

    def as_dict(self) -> dict[str, Any]:
        return {"result": self.verb, **asdict(self.entry)}


@dataclass(frozen=True)
class Listing:
    kind: str
    owner: str
    owner_id: int
    entries: list[Entry]

    def summary(self) -> str:
        if not self.entries:
            return f"no {self.kind}s for {self.owner} {self.owner_id}"
        return "\n".join(entry.summary() for entry in self.entries)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            self.owner: self.owner_id,
            "entries": [asdict(e) for e in self.entries],
        }


def parse_key(kind: Kind, raw: str) -> str | int:
    raw = raw.strip()
    if kind.key_max is not None:
        if not raw or len(raw) > kind.key_max or not raw.isprintable():
            raise AdminError(
                f"the {kind.name} {kind.key_column} must be 1 to {kind.key_max} printable characters"
            )
        return raw
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= INT4_MAX:
        raise AdminError(f"the {kind.name} id must be an integer from 1 to {INT4_MAX}")
    return int(raw)


def _check_name(kind: Kind, name: str | None, *, required: bool) -> str | None:
    if name is None:
        if required and kind.key_column == "id":
            raise AdminError(f"a {kind.name} needs a --name")
        return None
    name = name.strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise AdminError(f"the {kind.name} name must be 1 to {NAME_MAX} printable characters")
    return name


async def _require_owner(sessionmaker: Sessionmaker, kind: Kind, owner_id: int) -> None:
    if kind.owner == "provider":
        await load_provider(sessionmaker, owner_id)
    else:
        await require_tenant(sessionmaker, owner_id)


def _entry(kind: Kind, row: Any, *, changed: bool = True) -> Entry:
    return Entry(
        kind=kind.name,
        owner_id=getattr(row, kind.owner_column),
        key=getattr(row, kind.key_column),
        name=row.name,
        is_active=row.is_active,
        changed=changed,
    )


def _where(kind: Kind, owner_id: int, key: str | int) -> list[Any]:
    model = kind.model
    key_col = getattr(model, kind.key_column)
    if kind.owner == "provider":
        return [model.service_provider_id == owner_id, key_col == key]
    return [key_col == key]  # a tenant's rows have global ids: the owner is checked after


async def _find(sessionmaker: Sessionmaker, kind: Kind, owner_id: int, key: str | int) -> Any:
    async with sessionmaker() as session:
        row = (
            await session.execute(select(kind.model).where(*_where(kind, owner_id, key)))
        ).scalar_one_or_none()
    if row is not None and getattr(row, kind.owner_column) != owner_id:
        raise AdminError(f"{kind.name} {key} belongs to another {kind.owner}")
    return row


async def create_entry(
    sessionmaker: Sessionmaker,
    kind: Kind,
    *,
    owner_id: int,
    key: str | int,
    name: str | None,
    active: bool = True,
    if_not_exists: bool = False,
) -> Result:
    """Insert the row; an existing one is an error, or kept as it is with ``if_not_exists``."""
    name = _check_name(kind, name, required=True)
    await _require_owner(sessionmaker, kind, owner_id)
    existing = await _find(sessionmaker, kind, owner_id, key)
    if existing is None:
        values = {
            kind.owner_column: owner_id,
            kind.key_column: key,
            "name": name,
            "is_active": active,
        }
        statement = (
            insert(kind.model).values(**values).on_conflict_do_nothing().returning(kind.model)
        )
        async with unit_of_work(sessionmaker) as session:
            created = (await session.execute(statement)).scalar_one_or_none()
        if created is not None:
            return Result("created", _entry(kind, created))
        existing = await _find(sessionmaker, kind, owner_id, key)
    if not if_not_exists:
        raise AdminError(
            f"{kind.name} {key} already exists; pass --if-not-exists to accept it, "
            "or change it with the update command"
        )
    return Result("kept", _entry(kind, existing, changed=False))


async def update_entry(
    sessionmaker: Sessionmaker,
    kind: Kind,
    *,
    owner_id: int,
    key: str | int,
    name: str | None = None,
    active: bool | None = None,
) -> Result:
    """Change the name and/or whether it is active; the row must exist."""
    name = _check_name(kind, name, required=False)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if active is not None:
        changes["is_active"] = active
    if not changes:
        raise AdminError("nothing to update: give --name, --active or --inactive")
    await _require_owner(sessionmaker, kind, owner_id)
    if await _find(sessionmaker, kind, owner_id, key) is None:
        raise AdminError(f"{kind.name} {key} does not exist for {kind.owner} {owner_id}")
    statement = (
        update(kind.model)
        .where(*_where(kind, owner_id, key))
        .values(**changes)
        .returning(kind.model)
    )
    async with unit_of_work(sessionmaker) as session:
        row = (await session.execute(statement)).scalar_one()
    return Result("updated", _entry(kind, row))


async def list_entries(sessionmaker: Sessionmaker, kind: Kind, *, owner_id: int) -> Listing:
    await _require_owner(sessionmaker, kind, owner_id)
    model = kind.model
    statement = (
        select(model)
        .where(getattr(model, kind.owner_column) == owner_id)
        .order_by(getattr(model, kind.key_column))
    )
    async with sessionmaker() as session:
        rows = (await session.execute(statement)).scalars().all()
    return Listing(kind.name, kind.owner, owner_id, [_entry(kind, row) for row in rows])
