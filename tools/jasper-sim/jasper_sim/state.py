"""In-memory Control Center state: accounts, users (API keys), devices, audit rows, dated edits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jasper_sim import dates
from jasper_sim.config import FaultConfig

CUSTOM_FIELDS = (
    *(f"operatorCustom{n}" for n in range(1, 6)),
    *(f"accountCustom{n}" for n in range(1, 11)),
    *(f"customerCustom{n}" for n in range(1, 6)),
)
# Fields an edit may set besides status and effectiveDate.
PLAIN_FIELDS = ("ratePlan", "communicationPlan", "customer", "deviceID", "modemID")


@dataclass
class Account:
    account_id: str
    rate_plans: list[str] = field(default_factory=list)
    communication_plans: list[str] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    faults: FaultConfig = field(default_factory=FaultConfig)
    in_flight: int = 0
    max_in_flight: int = 0

    def admin_view(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "ratePlans": self.rate_plans,
            "communicationPlans": self.communication_plans,
            "customers": self.customers,
            "faults": self.faults.model_dump(),
            "inFlight": self.in_flight,
            "maxInFlight": self.max_in_flight,
        }


@dataclass
class User:
    username: str
    api_key: str
    account_id: str
    expires_at: datetime | None = None
    revoked: bool = False

    def usable(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)

    def admin_view(self) -> dict[str, Any]:
        return {
            "userName": self.username,
            "accountId": self.account_id,
            "revoked": self.revoked,
            "expiresAt": dates.answer(self.expires_at),
        }


@dataclass
class AuditRow:
    field: str
    prior_value: str | None
    value: str | None
    effective_date: datetime
    status: str  # Pending, Executed, Failed (the real values are UNCONFIRMED)
    user_name: str
    ip_address: str | None
    sequence: int

    def public(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "priorValue": self.prior_value,
            "value": self.value,
            "effectiveDate": dates.answer(self.effective_date),
            "status": self.status,
            "userName": self.user_name,
            "delegatedUser": None,
            "ipAddress": self.ip_address,
        }


@dataclass
class Device:
    iccid: str
    account_id: str
    status: str
    rate_plan: str | None = None
    communication_plan: str | None = None
    customer: str | None = None
    imsi: str | None = None
    msisdn: str | None = None
    imei: str | None = None
    device_id: str | None = None
    modem_id: str | None = None
    custom: dict[str, str] = field(default_factory=dict)
    date_added: datetime = field(default_factory=dates.utcnow)
    date_updated: datetime = field(default_factory=dates.utcnow)
    date_activated: datetime | None = None
    audit: list[AuditRow] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        plain = {
            "status": self.status,
            "ratePlan": self.rate_plan,
            "communicationPlan": self.communication_plan,
            "customer": self.customer,
            "deviceID": self.device_id,
            "modemID": self.modem_id,
        }
        return plain[name] if name in plain else self.custom.get(name)

    def set(self, name: str, value: str) -> None:
        attrs = {
            "status": "status",
            "ratePlan": "rate_plan",
            "communicationPlan": "communication_plan",
            "customer": "customer",
            "deviceID": "device_id",
            "modemID": "modem_id",
        }
        if name in attrs:
            setattr(self, attrs[name], value)
        else:
            self.custom[name] = value

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "iccid": self.iccid,
            "imsi": self.imsi,
            "msisdn": self.msisdn,
            "imei": self.imei or "",
            "status": self.status,
            "ratePlan": self.rate_plan,
            "communicationPlan": self.communication_plan,
            "customer": self.customer or "",
            "endConsumerId": None,
            "dateActivated": dates.answer(self.date_activated),
            "dateAdded": dates.answer(self.date_added),
            "dateUpdated": dates.answer(self.date_updated),
            "dateShipped": None,
            "accountId": self.account_id,
            "fixedIPAddress": "",
            "fixedIpv6Address": "",
            "simNotes": None,
            "deviceID": self.device_id or "",
            "modemID": self.modem_id or "",
            "globalSimType": "",
            "euiccid": None,
            "simProfileId": None,
        }
        out.update({name: self.custom.get(name, "") for name in CUSTOM_FIELDS})
        return out

    def search_entry(self) -> dict[str, Any]:
        return {
            "iccid": self.iccid,
            "status": self.status,
            "ratePlan": self.rate_plan,
            "communicationPlan": self.communication_plan,
        }


@dataclass
class PendingEdit:
    """An edit accepted now and applied at `due` (a future effectiveDate or a late fault)."""

    iccid: str
    fields: dict[str, str]
    due: datetime
    rows: list[AuditRow]


class SimState:
    """All carrier-side data. Single-threaded: only touched from the event loop."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.users: dict[str, User] = {}
        self.devices: dict[str, Device] = {}
        self.pending: list[PendingEdit] = []
        self._sequence = 0

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def devices_of(self, account_id: str) -> list[Device]:
        return [d for d in self.devices.values() if d.account_id == account_id]
