"""What a carrier callback does to our records, per operation (``params["op"]``).

An effect runs in the reconciling transaction with the device row locked. It changes the device
in memory (the session writes it) and returns the result stored on the device change, or
:class:`NextPhase` when the callback confirmed one step of a change that needs a further carrier
request; it raises :class:`EffectRefused` (before changing anything) when the carrier's change
cannot be recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common import operations as ops
from devicebulk_common.models import (
    CustomerRatePlan,
    Device,
    DeviceChange,
    DeviceIdentifierHistory,
)

if TYPE_CHECKING:
    from devicebulk_common.callbacks import ParsedCallback


@dataclass(frozen=True)
class NextPhase:
    """The callback confirmed one step; the device change is queued again with
    ``params["phase"] = phase`` for its next carrier request instead of ending."""

    phase: str
    note: str
    result: dict[str, Any] | None = None


class EffectRefused(Exception):
    """The carrier made the change but our records cannot take it (a named reason): the device
    change fails with it, for a person to reconcile."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Effect = Callable[
    [AsyncSession, "Device | None", DeviceChange, "ParsedCallback"],
    Awaitable["dict[str, Any] | NextPhase"],
]


# The longest MDN/MSISDN the device record holds (``device.mdn``, ``device.msisdn``).
NUMBER_MAX = 20


# ---- status update ------------------------------------------------------------------------------


async def _activated(
    session: AsyncSession, device: Device | None, dc: DeviceChange, cb: ParsedCallback
) -> dict[str, Any]:
    if device is None:
        return {}
    ids = cb.response_ids
    for kind in ("mdn", "msisdn"):
        if len(ids.get(kind) or "") > NUMBER_MAX:
            # Refused before anything changes: a value the column cannot hold would fail the
            # reconciling transaction again on every sweep.
            raise EffectRefused(
                "Activation.NumberTooLong",
                f"the carrier activated the device with {kind.upper()} {ids[kind]!r}, longer "
                f"than the {NUMBER_MAX} characters a phone number can have; record it by hand",
            )
    device.status = c.DeviceStatus.ACTIVE.value
    device.mdn = ids.get("mdn") or device.mdn
    device.msisdn = ids.get("msisdn") or ids.get("mdn") or device.msisdn
    plan = (dc.params or {}).get("service_plan")
    if plan:
        device.carrier_rate_plan = plan
    return {"msisdn": device.msisdn, "mdn": device.mdn}


def _status(new: c.DeviceStatus) -> Effect:
    async def effect(
        session: AsyncSession, device: Device | None, dc: DeviceChange, cb: ParsedCallback
    ) -> dict[str, Any]:
        if device is not None:
            device.status = new.value
        return {"status": new.value}

    return effect


async def _place_of_use_updated(
    session: AsyncSession, device: Device | None, dc: DeviceChange, cb: ParsedCallback
) -> dict[str, Any]:
    # We keep no copy of the place of use: the carrier's is the record.
    return {"primary_place_of_use": "updated"}


# ---- carrier rate plan --------------------------------------------------------------------------


async def _plan_changed(
    session: AsyncSession, device: Device | None, dc: DeviceChange, cb: ParsedCallback
) -> dict[str, Any]:
    plan = (dc.params or {}).get("service_plan")
    if device is not None and plan:
        device.carrier_rate_plan = plan
    return {"carrier_rate_plan": plan}


# ---- identifier change --------------------------------------------------------------------------


async def _identifier_changed(
    session: AsyncSession, device: Device | None, dc: DeviceChange, cb: ParsedCallback
) -> dict[str, Any]:
    """The device record takes the new identifier; ``device_identifier_history`` keeps the
    old one. A repeat (the record already has the new value) changes nothing."""
    params = dc.params or {}
    kind = str(params.get("identifier_type") or "ICCID").upper()
    column = "imei" if kind == "IMEI" else "iccid"
    new = params.get(f"new_{column}") or cb.response_ids.get(column)
    if device is None:
        return {"identifier_type": kind, "new": new}
    if not new:
        raise EffectRefused(
            "IdentifierChange.NoNewValue",
            f"the carrier confirmed the change but neither the request nor the callback names "
            f"the new {kind}",
        )
    old = getattr(device, column)
    if old != new:
        taken = select(Device.id).where(
            Device.service_provider_id == device.service_provider_id,
            getattr(Device, column) == new,
            Device.id != device.id,
        )
        if column == "imei":
            taken = taken.where(Device.is_deleted.is_(False))
        other = await session.scalar(taken.limit(1))
        if other is not None:
            raise EffectRefused(
                "IdentifierChange.InUse",
                f"the carrier moved the device to {kind} {new}, but device {other} of our "
                f"inventory already has it; reconcile the two records by hand",
            )
        session.add(
            DeviceIdentifierHistory(
                device_id=device.id,
                identifier_type=kind,
                old_value=old or "",
                new_value=new,
                device_change_id=dc.id,
            )
        )
        setattr(device, column, new)
    result: dict[str, Any] = {"identifier_type": kind, "old": old, "new": new}
    plan_id = params.get("customer_rate_plan_id")
    if plan_id is not None:
        # The identifier change stands even if the plan was removed since intake checked it.
        if await session.get(CustomerRatePlan, plan_id) is not None:
            device.customer_rate_plan_id = plan_id
            result["customer_rate_plan_id"] = plan_id
        else:
            result["customer_rate_plan_id"] = f"{plan_id} no longer exists; not set"
    return result


# ---- username and cost center: two carrier requests, one after the other ------------------------

USERNAME_FIELD_PHASE = "custom_fields"
COST_CENTER_PHASE = "cost_center"


def username_phases(params: Mapping[str, Any]) -> list[str]:
    """The carrier requests an ``edit_username`` change needs, in order: the username into its
    custom field, then the cost center. A value that is None is left as it is."""
    phases = []
    if params.get("username") is not None:
        phases.append(USERNAME_FIELD_PHASE)
    if params.get("cost_center") is not None:
        phases.append(COST_CENTER_PHASE)
    return phases


def username_phase(params: Mapping[str, Any]) -> str | None:
    """The step this attempt runs: the stored ``phase``, else the first one."""
    phases = username_phases(params)
    current = params.get("phase")
    if current in phases:
        return str(current)
    return phases[0] if phases else None


async def _username_step(
    session: AsyncSession, device: Device | None, dc: DeviceChange, cb: ParsedCallback
) -> dict[str, Any] | NextPhase:
    params = dc.params or {}
    phases = username_phases(params)
    phase = username_phase(params)
    confirmed = dict(dc.result or {})
    if phase == USERNAME_FIELD_PHASE:
        confirmed["username"] = params["username"]
        if device is not None:
            device.username = params["username"]
    elif phase == COST_CENTER_PHASE:
        confirmed["cost_center"] = params["cost_center"]
        if device is not None:
            device.cost_center = params["cost_center"]
    following = phases[phases.index(phase) + 1 :] if phase in phases else []
    if following:
        return NextPhase(following[0], note=f"{phase} confirmed", result=confirmed)
    return confirmed


EFFECTS: dict[str, Effect] = {
    ops.ACTIVATE: _activated,
    ops.SUSPEND: _status(c.DeviceStatus.SUSPENDED),
    ops.RESTORE: _status(c.DeviceStatus.ACTIVE),
    ops.DEACTIVATE: _status(c.DeviceStatus.DEACTIVATED),
    ops.UPDATE_PLACE_OF_USE: _place_of_use_updated,
    ops.CHANGE_PLAN: _plan_changed,
    ops.CHANGE_IDENTIFIER: _identifier_changed,
    ops.EDIT_USERNAME: _username_step,
}
