"""`sync-inventory`: bring our devices of one carrier account in line with the carrier's list.

Pages through the carrier's device list and, a chunk at a time (one transaction each, so an
interrupted sync keeps what it did and can simply be run again), updates status, MSISDN, MDN
and carrier plan of the devices we know. Devices only the carrier knows are created under
``--tenant`` when given, else counted as unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from devicebulk_admin.carrier import open_adapter
from devicebulk_admin.providers import load_provider
from devicebulk_admin.runtime import Sessionmaker
from devicebulk_admin.tenants import require_tenant
from devicebulk_common.carriers import CarrierDevice
from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import Device

CHUNK = 5_000

CARRIER_STATES = {
    "preactive": DeviceStatus.PREACTIVE,
    "active": DeviceStatus.ACTIVE,
    "suspend": DeviceStatus.SUSPENDED,
    "suspended": DeviceStatus.SUSPENDED,
    "deactive": DeviceStatus.DEACTIVATED,
    "deactivated": DeviceStatus.DEACTIVATED,
    "pending activation": DeviceStatus.PENDING_ACTIVATION,
    "pending_activation": DeviceStatus.PENDING_ACTIVATION,
    "pendingactivation": DeviceStatus.PENDING_ACTIVATION,
}


_COMPARED = ("id", "iccid", "status", "msisdn", "mdn", "carrier_rate_plan", "is_deleted")


def map_state(carrier_state: str) -> DeviceStatus | None:
    return CARRIER_STATES.get(" ".join(carrier_state.strip().lower().split()))


@dataclass
class SyncResult:
    provider_id: int
    tenant_id: int | None
    seen: int = 0
    updated: int = 0
    unchanged: int = 0
    created: int = 0
    unknown: int = 0
    unmapped_state: int = 0
    without_iccid: int = 0
    missing_at_carrier: int = 0

    def summary(self) -> str:
        text = (
            f"provider {self.provider_id}: the carrier listed {self.seen} devices; updated "
            f"{self.updated}, unchanged {self.unchanged}, created {self.created}, unknown "
            f"{self.unknown}; ours not listed by the carrier: {self.missing_at_carrier}"
        )
        if self.unknown:
            text += " (pass --tenant to create the unknown devices)"
        if self.unmapped_state or self.without_iccid:
            text += (
                f"\nstatus left alone for {self.unmapped_state} devices in an unknown carrier "
                f"state; {self.without_iccid} listed devices had no ICCID"
            )
        return text

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fields(device: CarrierDevice, status: DeviceStatus | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if status is not None:
        fields["status"] = status.value
    if device.msisdn:
        fields["msisdn"] = device.msisdn
    if device.mdn:
        fields["mdn"] = device.mdn
    if device.service_plan:
        fields["carrier_rate_plan"] = device.service_plan
    return fields


async def _apply_chunk(
    sessionmaker: Sessionmaker,
    provider_id: int,
    tenant_id: int | None,
    chunk: Sequence[CarrierDevice],
    result: SyncResult,
) -> int:
    """Apply one chunk in one transaction; returns how many of our live devices it matched."""
    by_iccid: dict[str, CarrierDevice] = {d.iccid: d for d in chunk if d.iccid}
    async with unit_of_work(sessionmaker) as session:
        rows = await session.execute(
            select(*(getattr(Device, name) for name in _COMPARED)).where(
                Device.service_provider_id == provider_id, Device.iccid.in_(by_iccid)
            )
        )
        changes: list[dict[str, Any]] = []
        found = live = 0
        for row in rows:
            found += 1
            live += 0 if row.is_deleted else 1
            carrier = by_iccid.pop(row.iccid)
            status = map_state(carrier.state)
            fields = _fields(carrier, status)
            if any(getattr(row, name) != value for name, value in fields.items()):
                changes.append({"id": row.id, **fields})
        # executemany by primary key; rows differ in which columns change, so group them.
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for change in changes:
            groups.setdefault(tuple(sorted(change)), []).append(change)
        for group in groups.values():
            await session.execute(update(Device), group)
        result.updated += len(changes)
        result.unchanged += found - len(changes)
        if by_iccid and tenant_id is None:
            result.unknown += len(by_iccid)
        elif by_iccid:
            new_rows = [
                {
                    "tenant_id": tenant_id,
                    "service_provider_id": provider_id,
                    "iccid": iccid,
                    "imei": carrier.ids.get("imei"),
                    "status": (map_state(carrier.state) or DeviceStatus.NOT_PROVISIONED).value,
                    "msisdn": carrier.msisdn,
                    "mdn": carrier.mdn,
                    "carrier_rate_plan": carrier.service_plan,
                    "is_active": True,
                    "is_deleted": False,
                }
                for iccid, carrier in by_iccid.items()
            ]
            statement = insert(Device).on_conflict_do_nothing(
                index_elements=[Device.service_provider_id, Device.iccid]
            )
            created = await session.execute(statement.returning(Device.id), new_rows)
            result.created += len(created.all())
    return live


async def sync_inventory(
    sessionmaker: Sessionmaker,
    *,
    provider_id: int,
    credentials_key: str,
    tenant_id: int | None = None,
) -> SyncResult:
    provider = await load_provider(sessionmaker, provider_id)
    if tenant_id is not None:
        await require_tenant(sessionmaker, tenant_id)
    result = SyncResult(provider_id=provider_id, tenant_id=tenant_id)
    matched = 0
    chunk: list[CarrierDevice] = []
    async with open_adapter(provider, credentials_key=credentials_key) as adapter:
        async for device in adapter.list_devices():
            result.seen += 1
            if not device.iccid:
                result.without_iccid += 1
                continue
            if map_state(device.state) is None:
                result.unmapped_state += 1
            chunk.append(device)
            if len(chunk) >= CHUNK:
                matched += await _apply_chunk(sessionmaker, provider_id, tenant_id, chunk, result)
                chunk = []
    if chunk:
        matched += await _apply_chunk(sessionmaker, provider_id, tenant_id, chunk, result)
    async with sessionmaker() as session:
        ours = await session.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.service_provider_id == provider_id, Device.is_deleted.is_(False))
        )
    result.missing_at_carrier = max(0, (ours or 0) - matched - result.created)
    return result
