"""`seed-demo`: the demo tenant, carrier account and devices for `make run`, in our database
and in the ThingSpace simulator; with a Control Center simulator's URL also the second carrier,
POD19 (`demo_jasper.py`). Every id is deterministic, so running it again changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.dialects.postgresql import insert

from devicebulk_admin.carrier import TIMEOUT
from devicebulk_admin.demo_catalogue import (
    DEMO_PLAN,
    EXAMPLE_DEVICES,
    example_device_seeds,
    seed_catalogue,
    seed_example_devices,
)
from devicebulk_admin.demo_jasper import JasperDemoResult, seed_jasper_demo
from devicebulk_admin.errors import AdminError
from devicebulk_admin.providers import ProviderSpec, create_provider
from devicebulk_admin.runtime import Sessionmaker
from devicebulk_admin.tenants import create_tenant
from devicebulk_common.carriers import CarrierError, InProcessTokenCache, ThingSpaceAdapter
from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.identifiers import luhn_complete
from devicebulk_common.models import Device

TENANT_NAME = "Demo tenant"
TENANT_EMAIL = "demo-ops@devicebulk.local"
PROVIDER_NAME = "Demo ThingSpace"
ACCOUNT_NAME = "DEMO-ACCOUNT"
CREDENTIALS = {
    "client_key": "demo-key",
    "client_secret": "demo-secret",
    "username": "demo-api",
    "password": "demo-password",
}
PLAN = DEMO_PLAN[0]
BATCH = 5_000
MAX_DEVICES = 1_000_000


def demo_iccid(provider_id: int, n: int) -> str:
    """19 digits: 891480, the provider id, the device number, a Luhn check digit."""
    return luhn_complete(f"891480{provider_id:04d}{n:08d}")


def demo_imei(provider_id: int, n: int) -> str:
    return luhn_complete(f"35{provider_id:04d}{n:08d}")


@dataclass
class DemoResult:
    tenant_id: int
    provider_id: int
    devices: int
    tenant_created: bool = False
    provider_created: bool = False
    devices_inserted: int = 0
    sim_url: str | None = None
    sim_devices_added: int = 0
    iccids_file: str | None = None
    examples: bool = False
    catalogue_created: int = 0
    example_devices_added: int = 0
    jasper: JasperDemoResult | None = None

    def summary(self) -> str:
        def made(created: bool) -> str:
            return "created" if created else "kept"

        lines = [
            f"tenant {self.tenant_id} ({TENANT_NAME}): {made(self.tenant_created)}",
            f"provider {self.provider_id} ({PROVIDER_NAME}, account {ACCOUNT_NAME}): "
            f"{made(self.provider_created)}",
            f"devices: {self.devices} wanted, {self.devices_inserted} inserted",
            f"catalogue (rate plans, Rev customers, pools): {self.catalogue_created} created",
        ]
        if self.examples:
            lines.append(
                f"the OpenAPI examples' devices: {len(EXAMPLE_DEVICES)} wanted, "
                f"{self.example_devices_added} added"
            )
        if self.sim_url:
            lines.append(
                f"simulator {self.sim_url}: account {ACCOUNT_NAME} seeded, "
                f"{self.sim_devices_added} devices added"
            )
        if self.iccids_file:
            lines.append(f"ICCIDs written to {self.iccids_file}")
        if self.jasper is not None:
            lines.append(self.jasper.summary())
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _batches(items: Sequence[Any], size: int = BATCH) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def _insert_devices(
    sessionmaker: Sessionmaker, tenant_id: int, provider_id: int, count: int
) -> int:
    rows = [
        {
            "tenant_id": tenant_id,
            "service_provider_id": provider_id,
            "iccid": demo_iccid(provider_id, n),
            "imei": demo_imei(provider_id, n),
            "status": DeviceStatus.PREACTIVE.value,
            "carrier_rate_plan": PLAN,
            "is_active": True,
            "is_deleted": False,
        }
        for n in range(1, count + 1)
    ]
    statement = (
        insert(Device)
        .on_conflict_do_nothing(index_elements=[Device.service_provider_id, Device.iccid])
        .returning(Device.id)
    )
    inserted = 0
    async with unit_of_work(sessionmaker) as session:
        for batch in _batches(rows):
            inserted += len((await session.execute(statement, list(batch))).all())
    return inserted


async def _sim_iccids(http: httpx.AsyncClient, sim_url: str) -> set[str]:
    """The ICCIDs the simulator already holds for the demo account (via its device list)."""
    adapter = ThingSpaceAdapter(
        http,
        base_url=f"{sim_url}/api",
        account_name=ACCOUNT_NAME,
        token_cache=InProcessTokenCache(),
        **CREDENTIALS,
    )
    try:
        return {device.iccid async for device in adapter.list_devices() if device.iccid}
    finally:
        await adapter.aclose()


async def _sim_post(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> None:
    response = await http.post(url, json=body)
    if response.status_code >= 300:
        raise AdminError(
            f"the simulator refused POST {url}: {response.status_code} {response.text}"
        )


async def seed_simulator(
    sim_url: str, provider_id: int, count: int, *, examples: bool = False
) -> int:
    """Create or update the demo account and add the demo devices it lacks; returns how many."""
    account = {"accountName": ACCOUNT_NAME, **CREDENTIALS}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            await _sim_post(http, f"{sim_url}/_sim/accounts", account)
            present = await _sim_iccids(http, sim_url)
            missing = [
                {
                    "iccid": demo_iccid(provider_id, n),
                    "imei": demo_imei(provider_id, n),
                    "state": "preactive",
                    "servicePlan": PLAN,
                }
                for n in range(1, count + 1)
                if demo_iccid(provider_id, n) not in present
            ]
            if examples:
                missing += [d for d in example_device_seeds() if d["iccid"] not in present]
            for batch in _batches(missing):
                body = {"accountName": ACCOUNT_NAME, "devices": list(batch)}
                await _sim_post(http, f"{sim_url}/_sim/devices", body)
    except httpx.HTTPError as exc:
        raise AdminError(f"cannot reach the simulator at {sim_url}: {exc!r}") from exc
    except CarrierError as exc:
        raise AdminError(f"the simulator's device list failed: {exc}") from exc
    return len(missing)


async def seed_demo(
    sessionmaker: Sessionmaker,
    *,
    tenant_id: int,
    provider_id: int,
    devices: int,
    credentials_key: str,
    sim_url: str,
    seed_sim: bool = True,
    iccids_file: Path | None = None,
    examples: bool = False,
    jasper_sim_url: str | None = None,
    jasper_iccids_file: Path | None = None,
) -> DemoResult:
    """The provider's base URL is ``{sim_url}/api``; ``seed_sim=False`` leaves the simulator be.
    The demo's carrier plan is always in the provider's catalogue; ``examples`` adds the rest of
    the catalogue and the devices the OpenAPI examples name, each in the state its example
    needs (`make run`). ``jasper_sim_url`` also seeds POD19, the Control Center provider, with
    as many devices, at that simulator (`demo_jasper.seed_jasper_demo`)."""
    if not 0 <= devices <= MAX_DEVICES:
        raise AdminError(f"--devices must be between 0 and {MAX_DEVICES}")
    if not 0 < provider_id < 10_000:
        raise AdminError(
            "the demo provider id must be between 1 and 9999 (it is part of the ICCIDs)"
        )
    result = DemoResult(
        tenant_id=tenant_id, provider_id=provider_id, devices=devices, examples=examples
    )
    tenant = await create_tenant(
        sessionmaker,
        tenant_id=tenant_id,
        name=TENANT_NAME,
        notification_email=TENANT_EMAIL,
        if_not_exists=True,
    )
    result.tenant_created = tenant.created
    base = sim_url.rstrip("/")
    spec = ProviderSpec(
        id=provider_id, name=PROVIDER_NAME, account_name=ACCOUNT_NAME, base_url=f"{base}/api"
    )
    provider = await create_provider(
        sessionmaker,
        spec,
        credentials=lambda: dict(CREDENTIALS),
        credentials_key=credentials_key,
        if_not_exists=True,
    )
    result.provider_created = provider.created
    result.devices_inserted = await _insert_devices(sessionmaker, tenant_id, provider_id, devices)
    ids = {"tenant_id": tenant_id, "provider_id": provider_id}
    result.catalogue_created = await seed_catalogue(sessionmaker, **ids, examples=examples)
    if examples:
        result.example_devices_added = await seed_example_devices(sessionmaker, **ids)
    if seed_sim:
        result.sim_url = base
        result.sim_devices_added = await seed_simulator(
            base, provider_id, devices, examples=examples
        )
    if iccids_file is not None:
        iccids = "".join(f"{demo_iccid(provider_id, n)}\n" for n in range(1, devices + 1))
        try:
            await asyncio.to_thread(iccids_file.write_text, iccids)
        except OSError as exc:
            raise AdminError(f"cannot write {iccids_file}: {exc.strerror}") from exc
        result.iccids_file = str(iccids_file)
    if jasper_sim_url is not None:
        result.jasper = await seed_jasper_demo(
            sessionmaker,
            tenant_id=tenant_id,
            devices=devices,
            credentials_key=credentials_key,
            sim_url=jasper_sim_url,
            seed_sim=seed_sim,
            examples=examples,
            iccids_file=jasper_iccids_file,
        )
    return result
