"""In-memory carrier state: accounts, users, devices, tokens, sessions, requests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from thingspace_sim.config import FaultConfig

PREACTIVE = "preactive"
ACTIVE = "active"
SUSPEND = "suspend"
DEACTIVE = "deactive"
PENDING_ACTIVATION = "pending activation"
SEEDABLE_STATES = (PREACTIVE, ACTIVE, SUSPEND, DEACTIVE)

CARRIER_NAME = "Verizon Wireless"
CALLBACK_SERVICE = "CarrierService"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@dataclass
class CallbackRegistration:
    name: str
    url: str
    username: str | None = None
    password: str | None = None

    def public(self, account_name: str) -> dict[str, Any]:
        return {"accountName": account_name, "name": self.name, "url": self.url}


@dataclass
class Account:
    name: str
    client_key: str
    client_secret: str
    username: str
    password: str
    faults: FaultConfig = field(default_factory=FaultConfig)
    callbacks: dict[str, CallbackRegistration] = field(default_factory=dict)
    failed_logins: int = 0
    locked: bool = False

    def admin_view(self) -> dict[str, Any]:
        return {
            "accountName": self.name,
            "client_key": self.client_key,
            "username": self.username,
            "failed_logins": self.failed_logins,
            "locked": self.locked,
            "faults": self.faults.model_dump(),
            "callbacks": [r.public(self.name) for r in self.callbacks.values()],
        }


@dataclass
class Device:
    iccid: str
    account_name: str
    state: str
    imei: str | None = None
    service_plan: str | None = None
    mdn: str | None = None
    custom_fields: dict[str, str] = field(default_factory=dict)
    cost_center: str | None = None
    place_of_use: dict[str, Any] | None = None
    connected: bool = False
    last_activation_date: datetime | None = None
    last_connection_date: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    plan_changes: dict[str, int] = field(default_factory=dict)

    @property
    def msisdn(self) -> str | None:
        return f"1{self.mdn}" if self.mdn else None

    def ids(self, capitalised: bool = False) -> list[dict[str, str]]:
        """iccid, imei, then mdn and msisdn once assigned."""
        pairs = [("iccid", self.iccid), ("imei", self.imei), ("mdn", self.mdn)]
        pairs.append(("msisdn", self.msisdn))
        out = []
        for kind, value in pairs:
            if value:
                out.append({"id": value, "kind": kind.capitalize() if capitalised else kind})
        return out

    def envelope_ids(self) -> list[dict[str, str]]:
        """The callback envelope's ids: ICCID and IMEI, kinds capitalised as ThingSpace does."""
        return [i for i in self.ids(capitalised=True) if i["kind"] in ("Iccid", "Imei")]

    def listing(self) -> dict[str, Any]:
        """One entry of the device list answer."""
        return {
            "accountName": self.account_name,
            "deviceIds": self.ids(),
            "carrierInformations": [
                {"carrierName": CARRIER_NAME, "servicePlan": self.service_plan, "state": self.state}
            ],
            "connected": self.connected,
            "costCenterCode": self.cost_center,
            "customFields": [{"key": k, "value": v} for k, v in sorted(self.custom_fields.items())],
            "groupNames": [f"Default: {self.account_name}"],
            "createdAt": iso(self.created_at),
            "lastActivationDate": iso(self.last_activation_date),
            "lastConnectionDate": iso(self.last_connection_date),
        }

    def admin_view(self) -> dict[str, Any]:
        return {
            **self.listing(),
            "iccid": self.iccid,
            "imei": self.imei,
            "mdn": self.mdn,
            "msisdn": self.msisdn,
            "state": self.state,
            "servicePlan": self.service_plan,
            "planChanges": dict(self.plan_changes),
            "primaryPlaceOfUse": self.place_of_use,
        }


@dataclass
class AccessToken:
    value: str
    client_key: str
    account_name: str
    lifetime_s: float
    issued_at: float

    def expires_at(self, ttl_override: float | None = None) -> float:
        """An account's token_ttl_s fault shortens tokens already issued, too."""
        lifetime = min(self.lifetime_s, ttl_override) if ttl_override else self.lifetime_s
        return self.issued_at + lifetime

    def valid(self, now: float, ttl_override: float | None = None) -> bool:
        return now < self.expires_at(ttl_override)


@dataclass
class Session:
    value: str
    account_name: str
    username: str
    idle_s: float
    last_used: float
    access_token: str

    def valid(self, now: float, idle_override: float | None = None) -> bool:
        """An account's session_ttl_s fault shortens sessions already open, too."""
        idle = min(self.idle_s, idle_override) if idle_override else self.idle_s
        return now < self.last_used + idle

    def touch(self, now: float) -> None:
        self.last_used = now


@dataclass
class RequestRecord:
    request_id: str
    account_name: str
    action: str
    statuses: list[str]
    created_at: datetime = field(default_factory=utcnow)

    def overall(self) -> str:
        if "Pending" in self.statuses:
            return "Pending"
        return "Failed" if "Failed" in self.statuses else "Success"

    def admin_view(self) -> dict[str, Any]:
        return {
            "requestId": self.request_id,
            "accountName": self.account_name,
            "action": self.action,
            "status": self.overall(),
            "deviceStatuses": list(self.statuses),
            "createdAt": iso(self.created_at),
        }


class SimState:
    """All carrier-side data. Single-threaded: only touched from the event loop."""

    MDN_START = 5_550_000_001

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.devices: dict[str, Device] = {}
        self.by_imei: dict[str, str] = {}
        self.by_mdn: dict[str, str] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.token_by_client: dict[str, str] = {}
        self.sessions: dict[str, Session] = {}
        self.requests: dict[str, RequestRecord] = {}
        self.used_mdns: set[str] = set()
        self._next_mdn = self.MDN_START

    # accounts and users

    def account_by_client_key(self, client_key: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.client_key == client_key), None)

    def account_by_username(self, username: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.username == username), None)

    def expire_credentials(self, account_name: str, tokens: bool, sessions: bool) -> int:
        """Force early expiry (admin). Returns how many tokens/sessions were ended."""
        ended = 0
        if tokens:
            for key in [k for k, t in self.tokens.items() if t.account_name == account_name]:
                token = self.tokens.pop(key)
                if self.token_by_client.get(token.client_key) == key:
                    del self.token_by_client[token.client_key]
                ended += 1
        if sessions:
            for key in [k for k, s in self.sessions.items() if s.account_name == account_name]:
                del self.sessions[key]
                ended += 1
        return ended

    def prune(self, now: float | None = None) -> None:
        """Drop expired tokens and sessions so long runs do not grow without bound."""
        now = time.monotonic() if now is None else now
        for key in [k for k, t in self.tokens.items() if not t.valid(now)]:
            token = self.tokens.pop(key)
            if self.token_by_client.get(token.client_key) == key:
                del self.token_by_client[token.client_key]
        for key in [k for k, s in self.sessions.items() if not s.valid(now)]:
            del self.sessions[key]

    # devices

    def put_device(self, device: Device) -> None:
        """Insert or replace by ICCID. Raises ValueError if the IMEI or MDN is another's."""
        for index, value in ((self.by_imei, device.imei), (self.by_mdn, device.mdn)):
            owner = index.get(value) if value else None
            if owner is not None and owner != device.iccid:
                raise ValueError(f"identifier {value} belongs to device {owner}")
        if device.iccid in self.devices:
            self.remove_device(device.iccid)
        self.devices[device.iccid] = device
        if device.imei:
            self.by_imei[device.imei] = device.iccid
        if device.mdn:
            self.by_mdn[device.mdn] = device.iccid
            self.used_mdns.add(device.mdn)

    def remove_device(self, iccid: str) -> Device | None:
        device = self.devices.pop(iccid, None)
        if device is not None:
            if device.imei and self.by_imei.get(device.imei) == iccid:
                del self.by_imei[device.imei]
            if device.mdn and self.by_mdn.get(device.mdn) == iccid:
                del self.by_mdn[device.mdn]
        return device

    def holds(self, device: Device) -> bool:
        return self.devices.get(device.iccid) is device

    def owner_of(self, kind: str, value: str) -> Device | None:
        if kind == "iccid":
            return self.devices.get(value)
        index = {"imei": self.by_imei, "mdn": self.by_mdn}.get(kind)
        if index is None and kind == "msisdn" and value.startswith("1"):
            index, value = self.by_mdn, value[1:]
        iccid = index.get(value) if index is not None else None
        return self.devices.get(iccid) if iccid else None

    def find_device(self, ids: list[dict[str, str]]) -> Device | None:
        """Look a device up by ICCID first, then IMEI, then MDN/MSISDN."""
        for kind in ("iccid", "imei", "mdn", "msisdn"):
            for entry in ids:
                if entry["kind"] == kind and (device := self.owner_of(kind, entry["id"])):
                    return device
        return None

    def change_ids(self, device: Device, iccid: str | None, imei: str | None) -> None:
        self.remove_device(device.iccid)
        device.iccid = iccid or device.iccid
        device.imei = imei or device.imei
        self.put_device(device)

    def assign_mdn(self, device: Device) -> str:
        """Give the device a new, never used 10-digit MDN."""
        while str(self._next_mdn) in self.used_mdns:
            self._next_mdn += 1
        mdn = str(self._next_mdn)
        self._next_mdn += 1
        if device.mdn and self.by_mdn.get(device.mdn) == device.iccid:
            del self.by_mdn[device.mdn]
        device.mdn = mdn
        self.used_mdns.add(mdn)
        self.by_mdn[mdn] = device.iccid
        return mdn

    def devices_of(self, account_name: str) -> list[Device]:
        found = [d for d in self.devices.values() if d.account_name == account_name]
        return sorted(found, key=lambda d: (len(d.iccid), d.iccid))
