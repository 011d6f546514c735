"""Helpers for the change-type end-to-end tests: one fleet (a tenant, a provider and its
simulator account with the callback registered) shared by the tests of a module, devices added
to our inventory and the simulator, submitting through the intake API, and reading back the
outcome (device changes, audit trail, the email)."""

from __future__ import annotations

import asyncio
import csv
import email
import io
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import select

from devicebulk_common.models import Device, DeviceChange, DeviceChangeLog
from devicebulk_devstack.processes import Stack
from devicebulk_devstack.testdata import make_iccid, make_imei, unique_id
from tests.e2e.conftest import admin, sim


@dataclass
class Fleet:
    tenant_id: int
    provider_id: int
    account: str


def create_fleet(stack: Stack) -> Fleet:
    """A simulator account known to devicebulk as a provider, its callback registered."""
    account = f"CHANGES-{unique_id()}"
    creds = {
        "THINGSPACE_CLIENT_KEY": f"key-{account}",
        "THINGSPACE_CLIENT_SECRET": "changes-secret",
        "THINGSPACE_USERNAME": f"api-{account}",
        "THINGSPACE_PASSWORD": "changes-password",
    }
    fleet = Fleet(unique_id(), unique_id(), account)
    with sim(stack) as carrier:
        carrier.post(
            "/_sim/accounts",
            json={
                "accountName": account,
                "client_key": creds["THINGSPACE_CLIENT_KEY"],
                "client_secret": creds["THINGSPACE_CLIENT_SECRET"],
                "username": creds["THINGSPACE_USERNAME"],
                "password": creds["THINGSPACE_PASSWORD"],
            },
        ).raise_for_status()
    admin(stack, "create-tenant", "--id", str(fleet.tenant_id), "--name", "Changes tenant")
    admin(
        stack,
        "create-provider",
        "--id",
        str(fleet.provider_id),
        "--name",
        "Changes ThingSpace",
        "--account-name",
        account,
        "--base-url",
        f"{stack.config.sim_url}/api",
        env=creds,
    )
    # The plan the fleet's devices carry and activations name, in the provider's catalogue.
    admin(
        stack,
        "create-carrier-rate-plan",
        "--provider",
        str(fleet.provider_id),
        "--code",
        Spec.plan,
        "--name",
        "4G",
    )
    admin(
        stack,
        "register-callback",
        "--provider",
        str(fleet.provider_id),
        "--url-base",
        stack.config.callbacks_url,
    )
    return fleet


@dataclass
class Spec:
    """One device: its record in our inventory and its state at the carrier (None: absent)."""

    status: str = "active"
    at_carrier: str | None = "active"
    plan: str = "M2M_4G"
    last_usage_at: datetime | None = None
    carrier_extra: dict[str, Any] = field(default_factory=dict)


async def add_devices(stack: Stack, db, fleet: Fleet, specs: list[Spec]) -> list[Device]:
    """The devices in our inventory (an active one with its MSISDN) and at the carrier."""
    base = unique_id() * 1000
    devices, seeds = [], []
    for n, spec in enumerate(specs):
        iccid, imei = make_iccid(base + n), make_imei((base + n) % 1_000_000)
        mdn = f"{(base + n) % 10_000_000_000:010d}" if spec.at_carrier == "active" else None
        devices.append(
            Device(
                tenant_id=fleet.tenant_id,
                service_provider_id=fleet.provider_id,
                iccid=iccid,
                imei=imei,
                status=spec.status,
                carrier_rate_plan=spec.plan,
                msisdn=f"1{mdn}" if mdn else None,
                mdn=mdn,
                last_usage_at=spec.last_usage_at,
            )
        )
        if spec.at_carrier is not None:
            seeds.append(
                {
                    "iccid": iccid,
                    "imei": imei,
                    "state": spec.at_carrier,
                    "servicePlan": spec.plan,
                    **({"mdn": mdn} if mdn else {}),
                    **spec.carrier_extra,
                }
            )
    async with db() as s, s.begin():
        s.add_all(devices)
    if seeds:
        with sim(stack) as carrier:
            carrier.post(
                "/_sim/devices", json={"accountName": fleet.account, "devices": seeds}
            ).raise_for_status()
    return devices


async def add_rows(db, *rows: Any) -> None:
    async with db() as s, s.begin():
        s.add_all(rows)


def headers(fleet: Fleet, operator: str) -> dict[str, str]:
    return {"X-Tenant-Id": str(fleet.tenant_id), "X-User-Email": operator}


async def submit(
    stack: Stack, fleet: Fleet, body: dict[str, Any], *, timeout_s: float = 90
) -> tuple[str, dict[str, Any], str]:
    """POST the bulk change as the portal would; wait until it is processed.

    Returns (bulk change id, its view, the operator address its email goes to)."""
    operator = f"op-{uuid.uuid4().hex[:8]}@e2e.example"
    body = {"OverrideValidation": False, "ServiceProviderId": fleet.provider_id, **body}
    with httpx.Client(base_url=stack.config.intake_url, timeout=30) as api:
        answer = api.post("/api/v1/bulk-changes", headers=headers(fleet, operator), json=body)
        assert answer.status_code == 202, answer.text
        bulk_id = answer.json()["BulkChangeId"]
        deadline = time.monotonic() + timeout_s
        while True:
            view = api.get(
                f"/api/v1/bulk-changes/{bulk_id}", headers=headers(fleet, operator)
            ).json()
            if view["Status"] in ("PROCESSED", "ERROR"):
                return bulk_id, view, operator
            if time.monotonic() > deadline:
                raise AssertionError(f"bulk change not processed in {timeout_s} s: {view}")
            await asyncio.sleep(0.2)


async def changes(db, bulk_id: str) -> dict[str, DeviceChange]:
    """The bulk change's device changes, by ICCID as submitted."""
    async with db() as s:
        rows = (
            await s.scalars(
                select(DeviceChange).where(DeviceChange.bulk_change_id == uuid.UUID(bulk_id))
            )
        ).all()
    return {dc.iccid: dc for dc in rows}


async def records(db, devices: list[Device]) -> list[Device]:
    """The devices as stored now, in the order given."""
    async with db() as s:
        rows = {
            d.id: d
            for d in (
                await s.scalars(select(Device).where(Device.id.in_([d.id for d in devices])))
            ).all()
        }
    return [rows[d.id] for d in devices]


async def trail(db, bulk_id: str) -> dict[int, list[DeviceChangeLog]]:
    """The audit trail, by device change, in the order written."""
    async with db() as s:
        rows = (
            await s.scalars(
                select(DeviceChangeLog)
                .where(DeviceChangeLog.bulk_change_id == uuid.UUID(bulk_id))
                .order_by(DeviceChangeLog.id)
            )
        ).all()
    out: dict[int, list[DeviceChangeLog]] = {}
    for row in rows:
        out.setdefault(row.device_change_id or 0, []).append(row)
    return out


RUNNERS = ("bulk-worker", "callback-receiver")


def steps(entries: list[DeviceChangeLog]) -> list[tuple[str, str | None]]:
    """What the worker and the callback receiver recorded, in order."""
    return [(e.step, e.status) for e in entries if e.actor in RUNNERS]


@dataclass
class Mail:
    message: EmailMessage
    text: str
    rows: list[dict[str, str]]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])


async def mail_for(stack: Stack, bulk_id: str, *, timeout_s: float = 30) -> Mail:
    """The completion email of this bulk change (exactly one)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = []
        for path in sorted(stack.config.mail_dir.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if bulk_id in str(message["Subject"]):
                found.append(message)
        if found or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert len(found) == 1, f"{len(found)} emails for {bulk_id}"
    message = found[0]
    assert isinstance(message, EmailMessage)
    text = message.get_body(preferencelist=("plain",)).get_content()
    (attachment,) = list(message.iter_attachments())
    content = attachment.get_content()
    content = content if isinstance(content, str) else content.decode()
    return Mail(message, text, list(csv.DictReader(io.StringIO(content))))


def at_carrier(stack: Stack, iccid: str) -> dict[str, Any] | None:
    with sim(stack) as carrier:
        answer = carrier.get(f"/_sim/devices/{iccid}")
    return answer.json() if answer.status_code == 200 else None
