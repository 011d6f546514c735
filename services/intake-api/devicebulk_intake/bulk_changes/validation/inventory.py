"""What validation reads from the database, in a few set-based queries whatever the number of
devices (identifiers go in as one array parameter: 100,000 of them are one bind, not 100,000)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    any_,
    bindparam,
    exists,
    func,
    literal,
    select,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common import operations as ops
from devicebulk_common.models import (
    BulkChange,
    CarrierRatePlan,
    CustomerRatePlan,
    CustomerRatePool,
    Device,
    DeviceChange,
    RevCustomer,
    RevService,
    ServiceProvider,
)
from devicebulk_intake.bulk_changes.validation.common import DeviceSnapshot

_COLUMNS = (
    Device.id,
    Device.iccid,
    Device.imei,
    Device.msisdn,
    Device.status,
    Device.carrier_rate_plan,
    Device.last_usage_at,
    Device.is_deleted,
)


def _texts(name: str, values: Iterable[str]) -> Any:
    return bindparam(name, sorted(set(values)), type_=ARRAY(String))


def _any(column: Any, name: str, values: Iterable[str]) -> ColumnElement[bool]:
    return column == any_(_texts(name, values))


# Longer than any bulk change runs (the callback give-up is a day).
LONGEST_RUN = timedelta(days=31)


def month_start(now: datetime | None = None) -> datetime:
    """The first of the current month, 00:00 UTC."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _plan_changes_this_month(tenant_id: int, provider_id: int) -> Any:
    """Successful carrier plan changes by device this calendar month (UTC).

    Read from the tenant's plan-change bulk changes of the last two months (a bulk change runs
    for a day at most, so one created earlier cannot have completed a change this month), not
    from each device's whole history: the cost follows this month's plan changes."""
    since = month_start()
    return (
        select(DeviceChange.device_id, func.count().label("n"))
        .join(BulkChange, BulkChange.id == DeviceChange.bulk_change_id)
        .where(
            BulkChange.tenant_id == tenant_id,
            BulkChange.service_provider_id == provider_id,
            BulkChange.change_type == c.ChangeType.CARRIER_RATE_PLAN_CHANGE.value,
            BulkChange.created_at >= since - LONGEST_RUN,
            DeviceChange.status == c.DeviceChangeStatus.SUCCESS.value,
            DeviceChange.completed_at >= since,
            DeviceChange.params["op"].astext == ops.CHANGE_PLAN,
        )
        .group_by(DeviceChange.device_id)
        .subquery("plan_changes")
    )


async def load_devices(
    session: AsyncSession,
    tenant_id: int,
    provider_id: int,
    iccids: Iterable[str],
    *,
    count_plan_changes: bool = False,
    rev_services: bool = False,
) -> dict[str, DeviceSnapshot]:
    """The tenant's devices at this provider among ``iccids``, by ICCID, in one query.

    ``count_plan_changes``: also how many carrier plan changes each one completed this calendar
    month (UTC). ``rev_services``: also whether it has an active Rev service.
    """
    query = select(*_COLUMNS).where(
        Device.tenant_id == tenant_id,
        Device.service_provider_id == provider_id,
        _any(Device.iccid, "iccids", iccids),
    )
    if count_plan_changes:
        changes = _plan_changes_this_month(tenant_id, provider_id)
        query = query.outerjoin(changes, changes.c.device_id == Device.id).add_columns(
            func.coalesce(changes.c.n, 0)
        )
    else:
        query = query.add_columns(literal(0))
    if rev_services:
        query = query.add_columns(
            exists().where(RevService.device_id == Device.id, RevService.is_active.is_(True))
        )
    else:
        query = query.add_columns(literal(False))
    rows = await session.execute(query)
    # Positional: building 100,000 snapshots by keyword costs seconds.
    return {row[1]: DeviceSnapshot(*row) for row in rows}


async def load_devices_by_identifiers(
    session: AsyncSession,
    tenant_id: int,
    provider_id: int,
    *,
    iccids: Collection[str],
    imeis: Collection[str],
) -> list[DeviceSnapshot]:
    """The tenant's devices at this provider with one of these ICCIDs or IMEIs (one query: a
    UNION, so that each half is an index scan)."""
    if not iccids and not imeis:
        return []
    mine = (Device.tenant_id == tenant_id, Device.service_provider_id == provider_id)
    by_iccid = select(*_COLUMNS, literal(0), literal(False)).where(
        *mine, _any(Device.iccid, "iccids", iccids)
    )
    by_imei = select(*_COLUMNS, literal(0), literal(False)).where(
        *mine, _any(Device.imei, "imeis", imeis)
    )
    rows = await session.execute(union(by_iccid, by_imei))
    return [DeviceSnapshot(*row) for row in rows]


async def identifiers_in_use(
    session: AsyncSession, *, iccids: Collection[str], imeis: Collection[str]
) -> tuple[set[str], set[str]]:
    """Which of these ICCIDs and IMEIs some device of the inventory (any tenant or provider,
    deleted or not) already has: a new identifier must be none of them.

    One query whose halves are index scans: ICCIDs through (service_provider_id, iccid), one
    provider at a time (there is no index on the ICCID alone), IMEIs through theirs."""
    if not iccids and not imeis:
        return set(), set()
    by_iccid = (
        select(Device.iccid, literal(None, String).label("imei"))
        .select_from(ServiceProvider)
        .join(
            Device,
            and_(
                Device.service_provider_id == ServiceProvider.id,
                _any(Device.iccid, "iccids", iccids),
            ),
        )
    )
    by_imei = select(literal(None, String).label("iccid"), Device.imei).where(
        _any(Device.imei, "imeis", imeis)
    )
    used_iccids: set[str] = set()
    used_imeis: set[str] = set()
    rows: Any = await session.execute(union_all(by_iccid, by_imei))
    for iccid, imei in rows:
        if iccid is not None:
            used_iccids.add(iccid)
        if imei is not None:
            used_imeis.add(imei)
    return used_iccids, used_imeis


TenantCatalogue = type[CustomerRatePlan] | type[CustomerRatePool] | type[RevCustomer]


async def catalogue_states(
    session: AsyncSession, model: TenantCatalogue, tenant_id: int, ids: Iterable[Any]
) -> dict[Any, bool]:
    """``{id: is_active}`` for the tenant's entries among ``ids`` (customer rate plans, pools,
    Rev customers); an id missing from the answer does not exist for this tenant."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(model.id, model.is_active).where(
            model.tenant_id == tenant_id,
            model.id == any_(bindparam("ids", wanted, type_=ARRAY(model.id.type))),
        )
    )
    return {row.id: row.is_active for row in rows}


async def carrier_plan_states(
    session: AsyncSession, provider_id: int, codes: Iterable[str]
) -> dict[str, bool]:
    """``{code: is_active}`` of the provider's carrier plans among ``codes``; a code missing
    from the answer is not in the provider's catalogue."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = await session.execute(
        select(CarrierRatePlan.code, CarrierRatePlan.is_active).where(
            CarrierRatePlan.service_provider_id == provider_id,
            _any(CarrierRatePlan.code, "codes", wanted),
        )
    )
    return {row.code: row.is_active for row in rows}
