"""Seed data: accounts, users (API keys) and devices, from a file or the admin endpoints."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jasper_sim import dates
from jasper_sim.config import STATUSES, ConfigPatch, FaultConfig, SimConfig
from jasper_sim.state import CUSTOM_FIELDS, Account, Device, SimState, User


class UserSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    userName: str = Field(min_length=1, max_length=100)
    apiKey: str = Field(min_length=1, max_length=200)
    accountId: str | None = None
    expiresAt: datetime | None = None
    revoked: bool = False


class AccountSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accountId: str = Field(min_length=1, max_length=100)
    ratePlans: list[str] = Field(default_factory=list)
    communicationPlans: list[str] = Field(default_factory=list)
    customers: list[str] = Field(default_factory=list)
    users: list[UserSeed] = Field(default_factory=list)
    faults: FaultConfig | None = None


class DeviceSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accountId: str | None = None
    iccid: str = Field(pattern=r"^\d{19,20}$")
    status: str = "ACTIVATION_READY"
    ratePlan: str | None = None
    communicationPlan: str | None = None
    customer: str | None = None
    imsi: str | None = None
    msisdn: str | None = None
    imei: str | None = None
    custom: dict[str, str] = Field(default_factory=dict)

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        if value not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        return value

    @field_validator("custom")
    @classmethod
    def _custom(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(CUSTOM_FIELDS)
        if unknown:
            raise ValueError(f"unknown custom fields {sorted(unknown)}")
        return value


class DevicesSeed(BaseModel):
    """Body of POST /_sim/devices."""

    model_config = ConfigDict(extra="forbid")

    accountId: str
    devices: list[DeviceSeed]


class SeedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: ConfigPatch | None = None
    accounts: list[AccountSeed] = Field(default_factory=list)
    devices: list[DeviceSeed] = Field(default_factory=list)


def put_user(state: SimState, seed: UserSeed, account_id: str) -> User:
    if account_id not in state.accounts:
        raise KeyError(account_id)
    user = User(seed.userName, seed.apiKey, account_id, seed.expiresAt, seed.revoked)
    state.users[user.username] = user
    return user


def put_account(state: SimState, config: SimConfig, seed: AccountSeed) -> Account:
    """Create or update an account; an update keeps its devices (and its faults unless given)."""
    account = state.accounts.get(seed.accountId)
    if account is None:
        account = Account(seed.accountId, faults=config.default_faults.model_copy())
        state.accounts[account.account_id] = account
    account.rate_plans = list(seed.ratePlans)
    account.communication_plans = list(seed.communicationPlans)
    account.customers = list(seed.customers)
    if seed.faults is not None:
        account.faults = seed.faults
    for user in seed.users:
        put_user(state, user, account.account_id)
    return account


def put_devices(state: SimState, account_id: str, seeds: list[DeviceSeed]) -> int:
    """Insert or replace devices by ICCID."""
    if account_id not in state.accounts:
        raise KeyError(account_id)
    now = dates.utcnow()
    for seed in seeds:
        state.devices[seed.iccid] = Device(
            iccid=seed.iccid,
            account_id=account_id,
            status=seed.status,
            rate_plan=seed.ratePlan,
            communication_plan=seed.communicationPlan,
            customer=seed.customer,
            imsi=seed.imsi,
            msisdn=seed.msisdn,
            imei=seed.imei,
            custom=dict(seed.custom),
            date_added=now,
            date_updated=now,
            date_activated=now if seed.status == "ACTIVATED" else None,
        )
    return len(seeds)


def load(state: SimState, config: SimConfig, seed: SeedFile) -> None:
    if seed.config is not None:
        seed.config.apply_to(config)
    for account in seed.accounts:
        put_account(state, config, account)
    for device in seed.devices:
        if device.accountId is None:
            raise ValueError(f"seed device {device.iccid} needs an accountId")
        put_devices(state, device.accountId, [device])


def read_file(path: str | Path) -> SeedFile:
    return SeedFile.model_validate(json.loads(Path(path).read_text()))
