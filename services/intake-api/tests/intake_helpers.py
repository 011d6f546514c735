"""Helpers for the intake's submit tests: catalogue rows, device history, and reading back what
a submit stored for each device."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devicebulk_common.crypto import encrypt_json
from devicebulk_common.identifiers import luhn_complete
from devicebulk_common.models import (
    BulkChange,
    CarrierRatePlan,
    CustomerRatePlan,
    CustomerRatePool,
    Device,
    DeviceChange,
    OutboxMessage,
    RevCustomer,
    RevService,
    ServiceProvider,
    Tenant,
)
from devicebulk_devstack.testdata import make_iccid, unique_id

SUBMIT = "/api/v1/bulk-changes"


@dataclass(frozen=True)
class Stored:
    """One device change as a submit stored it."""

    status: str
    params: dict[str, Any] | None
    validation_error: str | None
    error_code: str | None
    error_message: str | None

    @property
    def op(self) -> str | None:
        return (self.params or {}).get("op")


def headers(tenant: Tenant | int, **extra: str) -> dict[str, str]:
    tenant_id = tenant if isinstance(tenant, int) else tenant.id
    return {"X-Tenant-Id": str(tenant_id), **extra}


async def submit(
    api: httpx.AsyncClient, tenant: Tenant | int, body: dict[str, Any], **extra: str
) -> dict[str, Any]:
    answer = await api.post(SUBMIT, json=body, headers=headers(tenant, **extra))
    assert answer.status_code == 202, answer.text
    return answer.json()


async def stored(
    sessionmaker: async_sessionmaker[AsyncSession], bulk_change_id: str
) -> dict[str, Stored]:
    """The bulk change's device changes by ICCID."""
    async with sessionmaker() as s:
        rows = (
            await s.scalars(
                select(DeviceChange)
                .where(DeviceChange.bulk_change_id == uuid.UUID(bulk_change_id))
                .order_by(DeviceChange.id)
            )
        ).all()
    return {
        r.iccid: Stored(r.status, r.params, r.validation_error, r.error_code, r.error_message)
        for r in rows
    }


async def submit_and_read(
    api: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant: Tenant | int,
    body: dict[str, Any],
) -> dict[str, Stored]:
    answer = await submit(api, tenant, body)
    return await stored(sessionmaker, answer["BulkChangeId"])


async def set_device(
    sessionmaker: async_sessionmaker[AsyncSession], device: Device, **values: Any
) -> None:
    async with sessionmaker() as s, s.begin():
        await s.execute(update(Device).where(Device.id == device.id).values(**values))


async def add(sessionmaker: async_sessionmaker[AsyncSession], *rows: Any) -> None:
    async with sessionmaker() as s, s.begin():
        s.add_all(rows)


async def carrier_plan(
    sessionmaker: async_sessionmaker[AsyncSession], provider_id: int, *, active: bool = True
) -> str:
    code = f"PLAN_{uuid.uuid4().hex[:8].upper()}"
    await add(
        sessionmaker,
        CarrierRatePlan(service_provider_id=provider_id, code=code, is_active=active),
    )
    return code


async def customer_plan(
    sessionmaker: async_sessionmaker[AsyncSession], tenant_id: int, *, active: bool = True
) -> int:
    plan_id = unique_id()
    await add(
        sessionmaker,
        CustomerRatePlan(id=plan_id, tenant_id=tenant_id, name="Gold", is_active=active),
    )
    return plan_id


async def customer_pool(
    sessionmaker: async_sessionmaker[AsyncSession], tenant_id: int, *, active: bool = True
) -> int:
    pool_id = unique_id()
    await add(
        sessionmaker,
        CustomerRatePool(id=pool_id, tenant_id=tenant_id, name="Pool", is_active=active),
    )
    return pool_id


async def rev_customer(
    sessionmaker: async_sessionmaker[AsyncSession], tenant_id: int, *, active: bool = True
) -> str:
    customer_id = f"RC{unique_id()}"
    await add(
        sessionmaker,
        RevCustomer(id=customer_id, tenant_id=tenant_id, name="Rev", is_active=active),
    )
    return customer_id


async def rev_service(
    sessionmaker: async_sessionmaker[AsyncSession], device: Device, customer_id: str, **kw: Any
) -> None:
    await add(sessionmaker, RevService(device_id=device.id, rev_customer_id=customer_id, **kw))


async def past_plan_changes(
    sessionmaker: async_sessionmaker[AsyncSession],
    device: Device,
    completed: list[tuple[str, datetime]],
) -> None:
    """Device changes of an earlier ChangeType 7 bulk change: (status, completed_at) each."""
    bulk_id = uuid.uuid4()
    async with sessionmaker() as s, s.begin():
        s.add(
            BulkChange(
                id=bulk_id,
                tenant_id=device.tenant_id,
                service_provider_id=device.service_provider_id,
                change_type=7,
                status="PROCESSED",
                request={},
                device_count=len(completed),
                remaining_count=0,
            )
        )
        await s.flush()
        s.add_all(
            DeviceChange(
                bulk_change_id=bulk_id,
                device_id=device.id,
                iccid=device.iccid,
                status=status,
                params={"op": "change_plan", "service_plan": "X", "current_service_plan": None},
                completed_at=at,
            )
            for status, at in completed
        )


async def table_counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Rows in the tables a submit writes to."""
    async with sessionmaker() as s:
        return {
            model.__tablename__: await s.scalar(select(func.count()).select_from(model)) or 0
            for model in (BulkChange, DeviceChange, OutboxMessage)
        }


async def ensure_provider(
    sessionmaker: async_sessionmaker[AsyncSession], provider_id: int, credentials_key: str
) -> None:
    """The provider with the portal's id ``provider_id`` (the samples name 1 and 4), writes
    enabled, whether or not an earlier test of this session created it."""
    values = {
        "id": provider_id,
        "name": f"Provider {provider_id}",
        "integration": "thingspace",
        "account_name": f"ACC-{provider_id}",
        "base_url": "http://127.0.0.1:1/api",
        "write_enabled": True,
        "credentials_encrypted": encrypt_json(
            credentials_key,
            {"client_key": "ck", "client_secret": "cs", "username": "api", "password": "pw"},
        ),
    }
    async with sessionmaker() as s, s.begin():
        await s.execute(
            insert(ServiceProvider)
            .values(**values)
            .on_conflict_do_update(index_elements=["id"], set_={"write_enabled": True})
        )


async def ensure_device(
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant_id: int,
    provider_id: int,
    iccid: str,
    **values: Any,
) -> Device:
    """The provider's device ``iccid``, now the tenant's, with exactly these values."""
    row = {
        "imei": None,
        "msisdn": None,
        "status": "preactive",
        "carrier_rate_plan": None,
        "last_usage_at": None,
        "is_active": True,
        "is_deleted": False,
        **values,
    }
    async with sessionmaker() as s, s.begin():
        await s.execute(
            insert(Device)
            .values(tenant_id=tenant_id, service_provider_id=provider_id, iccid=iccid, **row)
            .on_conflict_do_update(
                index_elements=["service_provider_id", "iccid"],
                set_={"tenant_id": tenant_id, **row},
            )
        )
        return (
            await s.scalars(
                select(Device).where(
                    Device.service_provider_id == provider_id, Device.iccid == iccid
                )
            )
        ).one()


async def ensure_catalogue(
    sessionmaker: async_sessionmaker[AsyncSession],
    model: type[CustomerRatePlan] | type[CustomerRatePool] | type[RevCustomer],
    entry_id: Any,
    tenant_id: int,
) -> None:
    """Entry ``entry_id`` (a fixed id a sample names), the tenant's and active."""
    async with sessionmaker() as s, s.begin():
        await s.execute(
            insert(model)
            .values(id=entry_id, tenant_id=tenant_id, name=f"sample {entry_id}", is_active=True)
            .on_conflict_do_update(
                index_elements=["id"], set_={"tenant_id": tenant_id, "is_active": True}
            )
        )


async def ensure_carrier_plan(
    sessionmaker: async_sessionmaker[AsyncSession], provider_id: int, code: str
) -> None:
    async with sessionmaker() as s, s.begin():
        await s.execute(
            insert(CarrierRatePlan)
            .values(service_provider_id=provider_id, code=code, is_active=True)
            .on_conflict_do_update(
                index_elements=["service_provider_id", "code"], set_={"is_active": True}
            )
        )


def now() -> datetime:
    return datetime.now(UTC)


def fresh_iccid() -> str:
    """A valid ICCID no device of this test session has (the factories never use n * 1000)."""
    return make_iccid(unique_id() * 1000)


def fresh_imei() -> str:
    """A valid IMEI no device of this test session has (a prefix the factories never use)."""
    return luhn_complete(f"4901{random.randrange(10**10):010d}")
