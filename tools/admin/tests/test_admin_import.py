"""import-devices: checked rows upserted on (service_provider_id, iccid), bad rows reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from devicebulk_admin.devices import StrictImportError, import_devices
from devicebulk_admin.errors import AdminError
from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.identifiers import luhn_complete
from devicebulk_common.models import Device


def iccid(n: int) -> str:
    return luhn_complete(f"891480{n:012d}")


def imei(n: int) -> str:
    return luhn_complete(f"35693803{n:06d}")


def fast_iccid(n: int) -> str:
    """`iccid(n)` computing the check digit in one pass (test data for 100,000 rows)."""
    body = f"891480{n:012d}"
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str(-total % 10)


def write(tmp_path: Path, text: str, name: str = "devices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


async def stored(sessionmaker, provider_id: int) -> dict[str, Device]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(Device).where(Device.service_provider_id == provider_id)
        )
        return {device.iccid: device for device in rows}


@pytest.fixture
async def accounts(factory):
    return await factory.tenant(), await factory.provider()


async def test_good_rows_import_and_bad_rows_are_reported_by_line(
    accounts, run_cli, sessionmaker, tmp_path
) -> None:
    tenant, provider = accounts
    bad_luhn = iccid(3)[:-1] + str((int(iccid(3)[-1]) + 1) % 10)
    path = write(
        tmp_path,
        "iccid,imei,msisdn,status,carrier_rate_plan,username,cost_center\n"
        f"{iccid(1)},{imei(1)},15550001111,active,M2M_4G,alice,CC-1\n"
        f"{iccid(2)},,,,,,\n"
        f"{bad_luhn},{imei(3)},,,,,\n"
        f"{iccid(4)},123,,,,,\n"
        f"{iccid(5)},,,sleeping,,,\n"
        f",{imei(6)},,,,,\n"
        f"{iccid(1)},,,,,,\n",
    )
    run = await run_cli(
        "import-devices", "--tenant", str(tenant.id), "--provider", str(provider.id), str(path)
    )
    assert run.code == 0, run.err
    assert "inserted 2, updated 0, unchanged 0, rejected 5" in run.out
    for line, reason in [
        (4, "Luhn"),
        (5, "IMEI must be 15 digits"),
        (6, "status 'sleeping'"),
        (7, "ICCID is missing"),
        (8, "repeats line 2"),
    ]:
        assert any(f"line {line}" in row and reason in row for row in run.out.splitlines()), (
            line,
            run.out,
        )
    devices = await stored(sessionmaker, provider.id)
    assert set(devices) == {iccid(1), iccid(2)}
    first = devices[iccid(1)]
    assert (first.tenant_id, first.imei, first.msisdn, first.status) == (
        tenant.id, imei(1), "15550001111", "active",
    )  # fmt: skip
    assert (first.carrier_rate_plan, first.username, first.cost_center) == (
        "M2M_4G",
        "alice",
        "CC-1",
    )
    assert devices[iccid(2)].status == "preactive"


async def test_reimport_updates_instead_of_duplicating(accounts, sessionmaker, tmp_path) -> None:
    tenant, provider = accounts
    header = "iccid,imei,msisdn,status\n"
    first = write(tmp_path, header + "".join(f"{iccid(n)},{imei(n)},,\n" for n in range(10)))
    result = await import_devices(sessionmaker, first, tenant_id=tenant.id, provider_id=provider.id)
    assert (result.inserted, result.updated, result.unchanged) == (10, 0, 0)

    again = write(
        tmp_path,
        header
        + f"{iccid(0)},,15550002222,\n"  # empty cells keep the IMEI; the MSISDN is new
        + f"{iccid(1)},,,suspended\n"
        + "".join(f"{iccid(n)},{imei(n)},,\n" for n in range(2, 10))
        + f"{iccid(10)},{imei(10)},,\n",
        "again.csv",
    )
    result = await import_devices(sessionmaker, again, tenant_id=tenant.id, provider_id=provider.id)
    assert (result.inserted, result.updated, result.unchanged, result.rejected) == (1, 2, 8, [])
    devices = await stored(sessionmaker, provider.id)
    assert len(devices) == 11
    assert (devices[iccid(0)].imei, devices[iccid(0)].msisdn) == (imei(0), "15550002222")
    assert devices[iccid(1)].status == "suspended"


async def test_reimport_without_status_keeps_the_stored_status(
    accounts, factory, sessionmaker, tmp_path
) -> None:
    tenant, provider = accounts
    [device] = await factory.devices(tenant, provider, 1, status=DeviceStatus.ACTIVE)
    path = write(tmp_path, f"iccid,username\n{device.iccid},bob\n")
    result = await import_devices(sessionmaker, path, tenant_id=tenant.id, provider_id=provider.id)
    assert (result.inserted, result.updated) == (0, 1)
    after = (await stored(sessionmaker, provider.id))[device.iccid]
    assert (after.status, after.username, after.imei) == ("active", "bob", device.imei)


async def test_device_of_another_tenant_is_rejected_not_moved(
    accounts, factory, sessionmaker, tmp_path
) -> None:
    tenant, provider = accounts
    other = await factory.tenant()
    [theirs] = await factory.devices(other, provider, 1)
    path = write(tmp_path, f"iccid,username\n{iccid(1)},x\n{theirs.iccid},y\n")
    result = await import_devices(sessionmaker, path, tenant_id=tenant.id, provider_id=provider.id)
    assert result.inserted == 1
    [rejected] = result.rejected
    assert (rejected.line, rejected.iccid) == (3, theirs.iccid)
    assert f"belongs to tenant {other.id}" in rejected.reason
    after = (await stored(sessionmaker, provider.id))[theirs.iccid]
    assert (after.tenant_id, after.username) == (other.id, None)


async def test_strict_imports_nothing_when_a_row_is_bad(
    accounts, run_cli, sessionmaker, tmp_path
) -> None:
    tenant, provider = accounts
    path = write(tmp_path, f"iccid\n{iccid(1)}\n12345\n")
    run = await run_cli(
        "import-devices", "--tenant", str(tenant.id), "--provider", str(provider.id),
        "--strict", "--json", str(path),
    )  # fmt: skip
    assert run.code == 1
    assert "nothing imported" in run.err
    report = json.loads(run.out)
    assert [r["line"] for r in report["rejected"]] == [3]
    assert await stored(sessionmaker, provider.id) == {}
    with pytest.raises(StrictImportError):
        await import_devices(
            sessionmaker, path, tenant_id=tenant.id, provider_id=provider.id, strict=True
        )


async def test_file_without_iccid_column_is_refused(accounts, run_cli, tmp_path) -> None:
    tenant, provider = accounts
    path = write(tmp_path, f"imei\n{imei(1)}\n")
    run = await run_cli(
        "import-devices", "--tenant", str(tenant.id), "--provider", str(provider.id), str(path)
    )
    assert run.code == 1
    assert "must name an 'iccid' column" in run.err


async def test_unknown_tenant_or_provider_is_a_clear_error(
    accounts, new_id, sessionmaker, tmp_path
) -> None:
    tenant, provider = accounts
    path = write(tmp_path, f"iccid\n{iccid(1)}\n")
    with pytest.raises(AdminError, match=r"tenant \d+ does not exist"):
        await import_devices(sessionmaker, path, tenant_id=new_id(), provider_id=provider.id)
    with pytest.raises(AdminError, match=r"provider \d+ does not exist"):
        await import_devices(sessionmaker, path, tenant_id=tenant.id, provider_id=new_id())


def test_fast_iccid_matches_luhn_complete() -> None:
    assert [fast_iccid(n) for n in range(50)] == [iccid(n) for n in range(50)]


async def test_hundred_thousand_rows_import_completely(accounts, sessionmaker, tmp_path) -> None:
    tenant, provider = accounts
    count = 100_000
    lines = "".join(f"{fast_iccid(n)},{imei(1)},preactive,M2M_4G\n" for n in range(count))
    path = write(tmp_path, "iccid,imei,status,carrier_rate_plan\n" + lines)
    result = await import_devices(sessionmaker, path, tenant_id=tenant.id, provider_id=provider.id)
    assert (result.inserted, result.rejected) == (count, [])
    async with sessionmaker() as session:
        total = await session.scalar(
            select(func.count()).where(Device.service_provider_id == provider.id)
        )
    assert total == count
