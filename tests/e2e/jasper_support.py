"""Helpers for the Control Center (Jasper) end-to-end tests: a Control Center provider with its
account and API user at jasper-sim, devices in our inventory and at the simulator in a given SIM
status, and what the simulator saw (its device, its audit trail, its call log)."""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from devicebulk_common.carriers.jasper.status_graph import NEUTRAL_STATUS
from devicebulk_common.models import BulkChange, Device, DeviceChangeLog
from devicebulk_devstack.processes import Stack
from devicebulk_devstack.testdata import make_iccid, make_imei, unique_id
from tests.e2e.change_support import Fleet
from tests.e2e.conftest import admin

API_PATH = "/rws/api/v1"
PLANS = ("M2M 1GB", "M2M 5GB")
# The custom fields EditUsername writes (JasperConfig's defaults).
USERNAME_FIELD, COST_CENTER_FIELD = "accountCustom1", "accountCustom2"
# A cap far above what one worker sends: the tests that are not about the cap run at speed.
FAST_FAULTS: dict[str, Any] = {"calls_per_second": 1000, "max_concurrent": 1}


@dataclass
class JasperFleet(Fleet):
    """A Control Center provider of the tenant: its account and API user at jasper-sim."""

    user: str = ""
    api_key: str = ""

    @property
    def basic(self) -> str:
        """The value of the ``Authorization`` header the adapter sends, after ``Basic ``."""
        return base64.b64encode(f"{self.user}:{self.api_key}".encode()).decode()


def jasper(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.config.jasper_sim_url, timeout=30)


def create_jasper_fleet(
    stack: Stack,
    tenant_id: int,
    *,
    provider_id: int | None = None,
    name: str = "POD19 (Cisco Control Center)",
    faults: dict[str, Any] | None = None,
) -> JasperFleet:
    """A jasper-sim account with its rate plans and one API user, known to devicebulk as a
    Control Center provider (`create-provider --integration jasper`, its rate plans in the
    catalogue), with a budget far above the account's cap unless the test sets the cap."""
    account = str(100_000_000 + unique_id())
    fleet = JasperFleet(
        tenant_id,
        provider_id or unique_id(),
        account,
        user=f"api-{uuid.uuid4().hex[:8]}",
        api_key=f"key-{uuid.uuid4().hex}",
    )
    with jasper(stack) as sim:
        sim.post(
            "/_sim/accounts",
            json={
                "accountId": account,
                "ratePlans": list(PLANS),
                "users": [{"userName": fleet.user, "apiKey": fleet.api_key}],
                "faults": faults if faults is not None else FAST_FAULTS,
            },
        ).raise_for_status()
    admin(
        stack,
        "create-provider",
        "--id", str(fleet.provider_id),
        "--name", name,
        "--account-name", account,
        "--integration", "jasper",
        "--base-url", f"{stack.config.jasper_sim_url}{API_PATH}",
        "--rate-limit-per-minute", "60000",
        env={"JASPER_USERNAME": fleet.user, "JASPER_API_KEY": fleet.api_key},
    )  # fmt: skip
    for plan in PLANS:
        admin(
            stack,
            "create-carrier-rate-plan",
            "--provider", str(fleet.provider_id),
            "--code", plan,
            "--name", plan,
        )  # fmt: skip
    return fleet


def set_faults(stack: Stack, fleet: JasperFleet, faults: dict[str, Any]) -> None:
    with jasper(stack) as sim:
        sim.put(f"/_sim/accounts/{fleet.account}/faults", json=faults).raise_for_status()


async def add_sims(
    stack: Stack,
    db: Any,
    fleet: JasperFleet,
    statuses: list[str],
    *,
    plan: str = PLANS[0],
    custom: dict[str, str] | None = None,
) -> list[Device]:
    """One device a SIM status: in our inventory (its neutral status) and at jasper-sim."""
    base = unique_id() * 1000
    devices = [
        Device(
            tenant_id=fleet.tenant_id,
            service_provider_id=fleet.provider_id,
            iccid=make_iccid(base + n),
            imei=make_imei((base + n) % 1_000_000),
            status=NEUTRAL_STATUS[status],
            carrier_rate_plan=plan,
        )
        for n, status in enumerate(statuses)
    ]
    async with db() as s, s.begin():
        s.add_all(devices)
    seeds = [
        {
            "iccid": d.iccid,
            "imei": d.imei,
            "status": status,
            "ratePlan": plan,
            **({"custom": custom} if custom else {}),
        }
        for d, status in zip(devices, statuses, strict=True)
    ]
    with jasper(stack) as sim:
        sim.post(
            "/_sim/devices", json={"accountId": fleet.account, "devices": seeds}
        ).raise_for_status()
    return devices


def at_jasper(stack: Stack, iccid: str) -> dict[str, Any]:
    """The device as jasper-sim holds it: details, its whole audit trail, its edit count."""
    with jasper(stack) as sim:
        answer = sim.get(f"/_sim/devices/{iccid}")
    answer.raise_for_status()
    return dict(answer.json())


def calls_for(stack: Stack, iccid: str) -> list[dict[str, Any]]:
    """Every API call jasper-sim logged naming the device in its path (refused ones included:
    a call refused before it was read, 40000029 or 401, names no ICCID in the log)."""
    with jasper(stack) as sim:
        answer = sim.get("/_sim/calls")
    answer.raise_for_status()
    return [c for c in answer.json()["calls"] if iccid in c["path"]]


def calls_by(stack: Stack, user: str) -> list[dict[str, Any]]:
    """Every API call jasper-sim logged with this API user's name."""
    with jasper(stack) as sim:
        answer = sim.get("/_sim/calls")
    answer.raise_for_status()
    return [c for c in answer.json()["calls"] if c["user"] == user]


def accepted_puts(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The edits jasper-sim took (PUT answered 200 or 202)."""
    return [c for c in calls if c["method"] == "PUT" and c["status"] in (200, 202)]


def edits_per_device(stack: Stack, devices: list[Device]) -> dict[str, int]:
    """Accepted edits per device, by jasper-sim's own count (an edit that changed a field)."""
    with jasper(stack) as sim:
        counts = sim.get("/_sim/edits").raise_for_status().json()["edits"]
    return {d.iccid: counts.get(d.iccid, 0) for d in devices}


def field_writes(stack: Stack, iccid: str) -> Counter[tuple[str, str]]:
    """(field, new value) of each row of the device's audit trail at jasper-sim."""
    return Counter((r["field"], r["value"]) for r in at_jasper(stack, iccid)["auditTrail"])


# EditUsername writes the username and the cost center, each into its custom field, in ONE PUT
# a device on Control Center (its capability's single_request).
USERNAME_PUTS_PER_DEVICE = 1


def assert_username_fields_written_once(
    stack: Stack, devices: list[Device], username: str, cost_center: str
) -> None:
    """Each device shows both custom fields with the new values, each field written exactly
    once (one audit row at the carrier), in USERNAME_PUTS_PER_DEVICE PUTs."""
    for device in devices:
        shown = at_jasper(stack, device.iccid)
        assert (shown[USERNAME_FIELD], shown[COST_CENTER_FIELD]) == (username, cost_center)
        writes = field_writes(stack, device.iccid)
        assert writes[(USERNAME_FIELD, username)] == 1, writes
        assert writes[(COST_CENTER_FIELD, cost_center)] == 1, writes
        puts = accepted_puts(calls_for(stack, device.iccid))
        assert len(puts) == USERNAME_PUTS_PER_DEVICE, puts


async def audit_texts(db: Any, bulk_id: str) -> list[str]:
    """Every text the audit trail of the bulk change holds (its request as stored, each
    audit row's message, URL, request and response text)."""
    async with db() as s:
        rows = (
            await s.scalars(
                select(DeviceChangeLog).where(DeviceChangeLog.bulk_change_id == uuid.UUID(bulk_id))
            )
        ).all()
        bulk = await s.get(BulkChange, uuid.UUID(bulk_id))
    texts = [str(bulk.request) if bulk else ""]
    for row in rows:
        texts += [row.message or "", row.http_url or "", row.request_text or ""]
        texts.append(row.response_text or "")
    return texts


async def assert_no_credentials(db: Any, bulk_id: str, fleet: JasperFleet) -> None:
    """Neither the API key nor the Basic header (its value or its base64) is in the audit
    trail."""
    texts = await audit_texts(db, bulk_id)
    for secret in (fleet.api_key, fleet.basic, f"Basic {fleet.basic}"):
        leaks = [t for t in texts if secret in t]
        assert not leaks, f"a credential in the audit trail: {leaks[:2]}"
    assert not [t for t in texts if "Basic " in t], "an Authorization header in the audit trail"


def assert_logs_free_of_credentials(stack: Stack, fleet: JasperFleet) -> None:
    """No process of the stack logged the API key or the Basic value."""
    for log in sorted((stack.config.var_dir / "logs").glob("*.log")):
        if log.name.startswith("jasper-sim"):
            continue  # the carrier's own log
        text = log.read_text(errors="replace")
        assert fleet.api_key not in text and fleet.basic not in text, f"a credential in {log.name}"


def carrier_exchange(entries: list[DeviceChangeLog], step: str) -> DeviceChangeLog:
    """The audit row of the device's carrier request at ``step`` holding its texts."""
    found = [e for e in entries if e.step == step and e.request_text]
    assert found, [(e.step, e.status, e.message) for e in entries]
    return found[0]
