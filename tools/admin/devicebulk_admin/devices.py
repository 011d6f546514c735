"""`import-devices`: upsert a CSV of devices into one tenant's inventory at one carrier account.

All in one transaction, 5,000 rows at a time: the checked rows are copied into a temporary
table (PostgreSQL COPY), then upserted on (service_provider_id, iccid) with
``INSERT ... ON CONFLICT DO UPDATE``, while a worker thread checks the next chunk. Empty cells leave the stored value as it is; a device
of the same carrier account that belongs to another tenant is rejected, never moved.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_admin.device_rows import COLUMNS, ParsedFile, Rejected, read_chunks
from devicebulk_admin.errors import AdminError
from devicebulk_admin.providers import load_provider
from devicebulk_admin.runtime import Sessionmaker
from devicebulk_admin.tenants import require_tenant
from devicebulk_common.db.engine import unit_of_work

STAGE = "admin_device_import"
SHOWN_REJECTS = 20

_CREATE_STAGE = """
CREATE TEMPORARY TABLE admin_device_import (
    line integer NOT NULL, iccid text PRIMARY KEY, imei text, msisdn text, status text,
    carrier_rate_plan text, username text, cost_center text
) ON COMMIT DROP
"""

_CLEAR_STAGE = "TRUNCATE admin_device_import"

_OTHER_TENANT = """
DELETE FROM admin_device_import s USING device d
WHERE d.service_provider_id = :provider AND d.iccid = s.iccid AND d.tenant_id <> :tenant
RETURNING s.line, s.iccid, d.tenant_id
"""

# Rows that name a status set it; the others insert as preactive and keep the stored status.
# Empty cells (NULL) keep the stored value; an unchanged row is not written (and not returned).
_UPSERT_WITH_STATUS = """
INSERT INTO device (tenant_id, service_provider_id, iccid, imei, msisdn, status,
                    carrier_rate_plan, username, cost_center, is_active, is_deleted)
SELECT :tenant, :provider, iccid, imei, msisdn, status,
       carrier_rate_plan, username, cost_center, true, false
FROM admin_device_import WHERE status IS NOT NULL
ON CONFLICT (service_provider_id, iccid) DO UPDATE SET
    imei = COALESCE(EXCLUDED.imei, device.imei),
    msisdn = COALESCE(EXCLUDED.msisdn, device.msisdn),
    status = EXCLUDED.status,
    carrier_rate_plan = COALESCE(EXCLUDED.carrier_rate_plan, device.carrier_rate_plan),
    username = COALESCE(EXCLUDED.username, device.username),
    cost_center = COALESCE(EXCLUDED.cost_center, device.cost_center),
    updated_at = now()
WHERE (device.imei, device.msisdn, device.status, device.carrier_rate_plan, device.username,
       device.cost_center)
  IS DISTINCT FROM
      (COALESCE(EXCLUDED.imei, device.imei), COALESCE(EXCLUDED.msisdn, device.msisdn),
       EXCLUDED.status, COALESCE(EXCLUDED.carrier_rate_plan, device.carrier_rate_plan),
       COALESCE(EXCLUDED.username, device.username),
       COALESCE(EXCLUDED.cost_center, device.cost_center))
RETURNING (xmax = 0) AS inserted
"""

_UPSERT_WITHOUT_STATUS = """
INSERT INTO device (tenant_id, service_provider_id, iccid, imei, msisdn, status,
                    carrier_rate_plan, username, cost_center, is_active, is_deleted)
SELECT :tenant, :provider, iccid, imei, msisdn, 'preactive',
       carrier_rate_plan, username, cost_center, true, false
FROM admin_device_import WHERE status IS NULL
ON CONFLICT (service_provider_id, iccid) DO UPDATE SET
    imei = COALESCE(EXCLUDED.imei, device.imei),
    msisdn = COALESCE(EXCLUDED.msisdn, device.msisdn),
    carrier_rate_plan = COALESCE(EXCLUDED.carrier_rate_plan, device.carrier_rate_plan),
    username = COALESCE(EXCLUDED.username, device.username),
    cost_center = COALESCE(EXCLUDED.cost_center, device.cost_center),
    updated_at = now()
WHERE (device.imei, device.msisdn, device.carrier_rate_plan, device.username,
       device.cost_center)
  IS DISTINCT FROM
      (COALESCE(EXCLUDED.imei, device.imei), COALESCE(EXCLUDED.msisdn, device.msisdn),
       COALESCE(EXCLUDED.carrier_rate_plan, device.carrier_rate_plan),
       COALESCE(EXCLUDED.username, device.username),
       COALESCE(EXCLUDED.cost_center, device.cost_center))
RETURNING (xmax = 0) AS inserted
"""


@dataclass
class ImportResult:
    file: str
    tenant_id: int
    provider_id: int
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    committed: bool = True

    def summary(self) -> str:
        lines = [
            f"{self.file}: {self.rows} rows for tenant {self.tenant_id}, provider "
            f"{self.provider_id}: inserted {self.inserted}, updated {self.updated}, unchanged "
            f"{self.unchanged}, rejected {len(self.rejected)}"
        ]
        if self.ignored_columns:
            lines.append(f"ignored unknown columns: {', '.join(self.ignored_columns)}")
        lines += [f"  rejected {r.describe()}" for r in self.rejected[:SHOWN_REJECTS]]
        if len(self.rejected) > SHOWN_REJECTS:
            lines.append(f"  ... and {len(self.rejected) - SHOWN_REJECTS} more (see --json)")
        if not self.committed:
            lines.append("nothing imported (--strict)")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rejected"] = [asdict(r) for r in self.rejected]
        return data


async def _upsert_chunk(
    session: AsyncSession, chunk: ParsedFile, params: dict[str, int], result: ImportResult
) -> None:
    """Stage one chunk with COPY, reject the other tenants' devices, upsert the rest."""
    result.rows += len(chunk.rows) + len(chunk.rejected)
    result.rejected += chunk.rejected
    result.ignored_columns += chunk.ignored_columns
    if not chunk.rows:
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        STAGE, records=[row.record() for row in chunk.rows], columns=["line", *COLUMNS]
    )
    elsewhere = (await session.execute(text(_OTHER_TENANT), params)).all()
    for line, iccid, owner in elsewhere:
        result.rejected.append(Rejected(line, iccid, f"the device belongs to tenant {owner}"))
    written = []
    for upsert in (_UPSERT_WITH_STATUS, _UPSERT_WITHOUT_STATUS):
        written += (await session.execute(text(upsert), params)).scalars().all()
    inserted = sum(1 for was_inserted in written if was_inserted)
    result.inserted += inserted
    result.updated += len(written) - inserted
    result.unchanged += len(chunk.rows) - len(elsewhere) - len(written)
    await session.execute(text(_CLEAR_STAGE))


async def import_devices(
    sessionmaker: Sessionmaker,
    path: Path,
    *,
    tenant_id: int,
    provider_id: int,
    strict: bool = False,
) -> ImportResult:
    """Import in one transaction. The file is read and checked in a worker thread, one chunk
    ahead of the database, so parsing and upserting overlap."""
    await require_tenant(sessionmaker, tenant_id)
    await load_provider(sessionmaker, provider_id)
    result = ImportResult(file=str(path), tenant_id=tenant_id, provider_id=provider_id)
    params = {"tenant": tenant_id, "provider": provider_id}
    chunks = read_chunks(path)
    upcoming: asyncio.Future[ParsedFile | None] | None = None
    try:
        async with unit_of_work(sessionmaker) as session:
            await session.execute(text(_CREATE_STAGE))
            upcoming = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
            while (chunk := await upcoming) is not None:
                upcoming = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
                await _upsert_chunk(session, chunk, params, result)
            result.rejected.sort(key=lambda r: r.line)
            if strict and result.rejected:
                result.inserted = result.updated = result.unchanged = 0
                result.committed = False
                raise StrictImportError(result)
    finally:
        if upcoming is not None and not upcoming.done():
            # The worker thread cannot be cancelled: let it finish its chunk, then close.
            with contextlib.suppress(Exception):
                await asyncio.shield(upcoming)
        chunks.close()
    return result


class StrictImportError(AdminError):
    """--strict and some rows were rejected: nothing was imported."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__(result.summary())
        self.result = result
