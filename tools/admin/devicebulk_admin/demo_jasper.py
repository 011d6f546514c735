"""`seed-demo --jasper-sim-url URL`: the second demo carrier, POD19 (id 19), a Cisco Control
Center provider of the demo tenant, with its devices and rate plans in our database and at
`jasper-sim`. Every id is deterministic: running it again changes nothing (devices already at
the simulator are left as they are).

The devices are `ACTIVATION_READY` SIMs on the `M2M 1GB` plan (our neutral status `preactive`),
so `make demo CARRIER=jasper` can activate them; with ``examples`` also the devices the Control
Center OpenAPI examples name, each in the state its example needs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.dialects.postgresql import insert

from devicebulk_admin import catalogue
from devicebulk_admin.carrier import TIMEOUT
from devicebulk_admin.errors import AdminError
from devicebulk_admin.jasper_provider import API_PATH, create_jasper_provider
from devicebulk_admin.providers import ProviderSpec
from devicebulk_admin.runtime import Sessionmaker
from devicebulk_common.carriers import CarrierError, InProcessTokenCache
from devicebulk_common.carriers.jasper import INTEGRATION, JasperAdapter
from devicebulk_common.carriers.jasper.status_graph import (
    ACTIVATED,
    ACTIVATION_READY,
    NEUTRAL_STATUS,
)
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.identifiers import luhn_complete
from devicebulk_common.models import Device

JASPER_PROVIDER_ID = 19
JASPER_PROVIDER_NAME = "POD19 (Cisco Control Center)"
JASPER_ACCOUNT = "100019"  # the simulator's accountId, our account_name
JASPER_CREDENTIALS = {"username": "pod19-api", "api_key": "pod19-demo-key"}
JASPER_PLAN = "M2M 1GB"
JASPER_PLANS = [(JASPER_PLAN, "1 GB M2M"), ("M2M 5GB", "5 GB M2M")]
JASPER_DEMO_STATUS = ACTIVATION_READY
BATCH = 1_000


def jasper_iccid(n: int) -> str:
    """19 digits: 891480, the provider id, the device number, a Luhn check digit (the ThingSpace
    demo's scheme, so the two providers' ICCIDs never meet)."""
    return luhn_complete(f"891480{JASPER_PROVIDER_ID:04d}{n:08d}")


def jasper_imei(n: int) -> str:
    return luhn_complete(f"35{JASPER_PROVIDER_ID:04d}{n:08d}")


@dataclass(frozen=True)
class JasperExampleDevice:
    """A device a Control Center OpenAPI example names, with its SIM status at the carrier."""

    example: str
    number: int  # its ICCID is jasper_iccid(number)
    sim_status: str

    @property
    def iccid(self) -> str:
        return jasper_iccid(self.number)


# By example (`services/intake-api/devicebulk_intake/bulk_changes/jasper_examples.py` names
# these ICCIDs: 8914800019900000015, ...).
JASPER_EXAMPLE_DEVICES = [
    JasperExampleDevice("jasper-activate", 90_000_001, ACTIVATION_READY),
    JasperExampleDevice("jasper-activate", 90_000_002, ACTIVATION_READY),
    JasperExampleDevice("jasper-deactivate", 90_000_003, ACTIVATED),
    JasperExampleDevice("jasper-deactivate", 90_000_004, ACTIVATED),
    JasperExampleDevice("jasper-carrier-rate-plan", 90_000_005, ACTIVATED),
    JasperExampleDevice("jasper-edit-username", 90_000_006, ACTIVATED),
]


@dataclass
class JasperDemoResult:
    provider_id: int = JASPER_PROVIDER_ID
    provider_created: bool = False
    devices: int = 0
    devices_inserted: int = 0
    catalogue_created: int = 0
    sim_url: str | None = None
    sim_devices_added: int = 0
    iccids_file: str | None = None

    def summary(self) -> str:
        made = "created" if self.provider_created else "kept"
        lines = [
            f"provider {self.provider_id} ({JASPER_PROVIDER_NAME}, account {JASPER_ACCOUNT}): "
            f"{made}",
            f"  devices: {self.devices} wanted, {self.devices_inserted} inserted; rate plans: "
            f"{self.catalogue_created} created",
        ]
        if self.sim_url:
            lines.append(
                f"  jasper-sim {self.sim_url}: account {JASPER_ACCOUNT} seeded, "
                f"{self.sim_devices_added} devices added"
            )
        if self.iccids_file:
            lines.append(f"  ICCIDs written to {self.iccids_file}")
        return "\n".join(lines)


def _wanted(count: int, examples: bool) -> list[tuple[str, str, str]]:
    """(ICCID, IMEI, SIM status) of every device to seed."""
    rows = [(jasper_iccid(n), jasper_imei(n), JASPER_DEMO_STATUS) for n in range(1, count + 1)]
    if examples:
        rows += [(d.iccid, jasper_imei(d.number), d.sim_status) for d in JASPER_EXAMPLE_DEVICES]
    return rows


async def _insert_devices(
    sessionmaker: Sessionmaker, tenant_id: int, wanted: list[tuple[str, str, str]]
) -> int:
    rows = [
        {
            "tenant_id": tenant_id,
            "service_provider_id": JASPER_PROVIDER_ID,
            "iccid": iccid,
            "imei": imei,
            "status": NEUTRAL_STATUS[sim_status],
            "carrier_rate_plan": JASPER_PLAN,
            "is_active": True,
            "is_deleted": False,
        }
        for iccid, imei, sim_status in wanted
    ]
    statement = (
        insert(Device)
        .on_conflict_do_nothing(index_elements=[Device.service_provider_id, Device.iccid])
        .returning(Device.id)
    )
    inserted = 0
    async with unit_of_work(sessionmaker) as session:
        for start in range(0, len(rows), BATCH):
            inserted += len((await session.execute(statement, rows[start : start + BATCH])).all())
    return inserted


async def _seed_catalogue(sessionmaker: Sessionmaker) -> int:
    created = 0
    for code, name in JASPER_PLANS:
        result = await catalogue.create_entry(
            sessionmaker,
            catalogue.CARRIER_RATE_PLAN,
            owner_id=JASPER_PROVIDER_ID,
            key=code,
            name=name,
            if_not_exists=True,
        )
        created += result.verb == "created"
    return created


async def _post(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> None:
    response = await http.post(url, json=body)
    if response.status_code >= 300:
        raise AdminError(f"jasper-sim refused POST {url}: {response.status_code} {response.text}")


async def seed_jasper_simulator(sim_url: str, wanted: list[tuple[str, str, str]]) -> int:
    """The account (its plans and API user) and the devices it lacks; returns how many."""
    account = {
        "accountId": JASPER_ACCOUNT,
        "ratePlans": [code for code, _ in JASPER_PLANS],
        "users": [
            {
                "userName": JASPER_CREDENTIALS["username"],
                "apiKey": JASPER_CREDENTIALS["api_key"],
            }
        ],
    }
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            await _post(http, f"{sim_url}/_sim/accounts", account)
            adapter = JasperAdapter(
                http,
                base_url=f"{sim_url}{API_PATH}",
                account_name=JASPER_ACCOUNT,
                username=JASPER_CREDENTIALS["username"],
                api_key=JASPER_CREDENTIALS["api_key"],
                refusal_cache=InProcessTokenCache(),
            )
            present = {d.iccid async for d in adapter.list_devices() if d.iccid}
            missing = [
                {"iccid": iccid, "imei": imei, "status": status, "ratePlan": JASPER_PLAN}
                for iccid, imei, status in wanted
                if iccid not in present
            ]
            for start in range(0, len(missing), BATCH):
                body = {"accountId": JASPER_ACCOUNT, "devices": missing[start : start + BATCH]}
                await _post(http, f"{sim_url}/_sim/devices", body)
    except httpx.HTTPError as exc:
        raise AdminError(f"cannot reach jasper-sim at {sim_url}: {exc!r}") from exc
    except CarrierError as exc:
        raise AdminError(f"jasper-sim's Search Devices failed: {exc}") from exc
    return len(missing)


async def seed_jasper_demo(
    sessionmaker: Sessionmaker,
    *,
    tenant_id: int,
    devices: int,
    credentials_key: str,
    sim_url: str,
    seed_sim: bool = True,
    examples: bool = False,
    iccids_file: Path | None = None,
) -> JasperDemoResult:
    """POD19 for ``tenant_id`` (which must exist): the provider (base URL ``{sim_url}/rws/api/v1``),
    its rate plans, ``devices`` devices (and the examples' with ``examples``), in our database
    and, unless ``seed_sim`` is false, at the simulator."""
    base = sim_url.rstrip("/")
    result = JasperDemoResult(devices=devices)
    spec = ProviderSpec(
        id=JASPER_PROVIDER_ID,
        name=JASPER_PROVIDER_NAME,
        account_name=JASPER_ACCOUNT,
        base_url=f"{base}{API_PATH}",
        integration=INTEGRATION,
    )
    provider = await create_jasper_provider(
        sessionmaker,
        spec,
        credentials=lambda: dict(JASPER_CREDENTIALS),
        credentials_key=credentials_key,
        if_not_exists=True,
    )
    result.provider_created = provider.created
    wanted = _wanted(devices, examples)
    result.devices_inserted = await _insert_devices(sessionmaker, tenant_id, wanted)
    result.catalogue_created = await _seed_catalogue(sessionmaker)
    if seed_sim:
        result.sim_url = base
        result.sim_devices_added = await seed_jasper_simulator(base, wanted)
    if iccids_file is not None:
        iccids = "".join(f"{jasper_iccid(n)}\n" for n in range(1, devices + 1))
        try:
            await asyncio.to_thread(iccids_file.write_text, iccids)
        except OSError as exc:
            raise AdminError(f"cannot write {iccids_file}: {exc.strerror}") from exc
        result.iccids_file = str(iccids_file)
    return result
