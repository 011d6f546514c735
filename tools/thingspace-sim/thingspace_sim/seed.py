"""Seed data: accounts, users and devices, from a file or the admin endpoints."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from thingspace_sim.config import ConfigPatch, FaultConfig, SimConfig
from thingspace_sim.state import (
    ACTIVE,
    CALLBACK_SERVICE,
    Account,
    CallbackRegistration,
    Device,
    SimState,
    utcnow,
)


class CallbackSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = CALLBACK_SERVICE
    url: str
    username: str | None = None
    password: str | None = None


class AccountSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accountName: str = Field(min_length=1)
    client_key: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)
    faults: FaultConfig | None = None
    callback: CallbackSeed | None = None


class DeviceSeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accountName: str | None = None
    iccid: str = Field(pattern=r"^\d{1,20}$")
    imei: str | None = Field(default=None, pattern=r"^\d{1,16}$")
    state: Literal["preactive", "active", "suspend", "deactive"] = "preactive"
    servicePlan: str | None = None
    mdn: str | None = Field(default=None, pattern=r"^\d{10}$")
    customFields: dict[str, str] = Field(default_factory=dict)
    costCenterCode: str | None = Field(default=None, max_length=36)
    connected: bool = False
    lastActivationDate: datetime | None = None
    lastConnectionDate: datetime | None = None
    # Plan changes already made this month (the carrier allows a few a month).
    planChangesThisMonth: int = Field(default=0, ge=0)


class DevicesSeed(BaseModel):
    """Body of POST /_sim/devices."""

    model_config = ConfigDict(extra="forbid")

    accountName: str
    devices: list[DeviceSeed]


class SeedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: ConfigPatch | None = None
    accounts: list[AccountSeed] = Field(default_factory=list)
    devices: list[DeviceSeed] = Field(default_factory=list)


def put_account(state: SimState, config: SimConfig, seed: AccountSeed) -> Account:
    """Create or update an account; an update keeps its devices, listeners and faults."""
    account = state.accounts.get(seed.accountName)
    if account is None:
        account = Account(
            seed.accountName,
            seed.client_key,
            seed.client_secret,
            seed.username,
            seed.password,
            faults=config.default_faults.model_copy(),
        )
        state.accounts[account.name] = account
    else:
        account.client_key, account.client_secret = seed.client_key, seed.client_secret
        account.username, account.password = seed.username, seed.password
    if seed.faults is not None:
        account.faults = seed.faults
    if seed.callback is not None:
        account.callbacks[seed.callback.name] = CallbackRegistration(**seed.callback.model_dump())
    return account


def put_devices(state: SimState, account_name: str, seeds: list[DeviceSeed]) -> int:
    """Insert or replace devices by ICCID. Raises KeyError/ValueError on bad references."""
    if account_name not in state.accounts:
        raise KeyError(account_name)
    for seed in seeds:
        device = Device(
            iccid=seed.iccid,
            account_name=account_name,
            state=seed.state,
            imei=seed.imei,
            service_plan=seed.servicePlan,
            mdn=seed.mdn,
            custom_fields=dict(seed.customFields),
            cost_center=seed.costCenterCode,
            connected=seed.connected,
            last_activation_date=seed.lastActivationDate,
            last_connection_date=seed.lastConnectionDate,
        )
        if seed.planChangesThisMonth:
            device.plan_changes[utcnow().strftime("%Y-%m")] = seed.planChangesThisMonth
        state.put_device(device)
        if device.state == ACTIVE:
            if device.mdn is None:
                state.assign_mdn(device)
            device.last_activation_date = device.last_activation_date or utcnow()
    return len(seeds)


def load(state: SimState, config: SimConfig, seed: SeedFile) -> None:
    if seed.config is not None:
        seed.config.apply_to(config)
    for account in seed.accounts:
        put_account(state, config, account)
    for device in seed.devices:
        if device.accountName is None:
            raise ValueError(f"seed device {device.iccid} needs an accountName")
        put_devices(state, device.accountName, [device])


def read_file(path: str | Path) -> SeedFile:
    return SeedFile.model_validate(json.loads(Path(path).read_text()))
