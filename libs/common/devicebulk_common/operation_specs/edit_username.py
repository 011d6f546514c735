"""ChangeType 6, EditUsername: the username and the cost center.

The adapter decides where the carrier keeps the username (a configured custom field). On a
carrier that takes the two in separate asynchronous requests, one device change runs them one
after the other: the first request's confirmed result queues the device change again with
``params["phase"]`` naming the next (:class:`NextPhase`), and only the last ends it
``Success``. On a carrier whose capability says one request carries both
(``single_request``), :func:`plan` sets the one phase ``username_and_cost_center`` when the
first attempt starts: one request, confirmed once. A value that is None is left as it is (a
change with only a cost center sends only the cost center). The carrier's view cannot show it:
an interrupted attempt is sent again (the same value twice is the same change).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from devicebulk_common import operations as ops
from devicebulk_common.carriers.base import (
    AsyncRequestAccepted,
    CarrierAdapter,
    DeviceRef,
    SyncActionResult,
)
from devicebulk_common.carriers.capabilities import OperationCapability
from devicebulk_common.operation_specs.spec import Confirmed, NextPhase, OperationSpec, Params

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from devicebulk_common.models import Device, DeviceChange

USERNAME_PHASE = "custom_fields"
COST_CENTER_PHASE = "cost_center"
BOTH_PHASE = "username_and_cost_center"  # one request carries both


class EditUsernameParams(Params):
    username: str | None = None
    cost_center: str | None = None
    phase: str | None = None  # set by the worker, never by intake


def phases(params: Mapping[str, Any]) -> list[str]:
    """The carrier requests the change needs, in order."""
    if params.get("phase") == BOTH_PHASE:
        return [BOTH_PHASE]
    out = []
    if params.get("username") is not None:
        out.append(USERNAME_PHASE)
    if params.get("cost_center") is not None:
        out.append(COST_CENTER_PHASE)
    return out


def phase(params: Mapping[str, Any]) -> str | None:
    """The step this attempt runs: the stored ``phase``, else the first one."""
    steps = phases(params)
    current = params.get("phase")
    if current in steps:
        return str(current)
    return steps[0] if steps else None


def plan(params: Mapping[str, Any], capability: OperationCapability) -> dict[str, Any] | None:
    """One step where one request of the carrier carries both values (set once, at the start)."""
    if not capability.single_request or params.get("phase") or not phases(params):
        return None
    return {**params, "phase": BOTH_PHASE}


def key(params: Mapping[str, Any]) -> Hashable:
    # Both values in the key: a batch shares its step and everything the steps send.
    return (phase(params), params.get("username"), params.get("cost_center"))


async def send(
    adapter: CarrierAdapter, devices: Sequence[DeviceRef], params: Mapping[str, Any]
) -> AsyncRequestAccepted | SyncActionResult:
    step = phase(params)
    if step == BOTH_PHASE:
        return await adapter.set_username_and_cost_center(
            devices, username=params.get("username"), cost_center=params.get("cost_center")
        )
    if step == USERNAME_PHASE:
        return await adapter.set_username(devices, params["username"])
    if step == COST_CENTER_PHASE:
        return await adapter.set_cost_center(devices, params["cost_center"])
    raise ValueError("edit_username needs a username or a cost center")


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any] | NextPhase:
    params = dc.params or {}
    steps = phases(params)
    step = phase(params)
    done = dict(dc.result or {})
    if step in (USERNAME_PHASE, BOTH_PHASE) and params.get("username") is not None:
        done["username"] = params["username"]
        if device is not None:
            device.username = params["username"]
    if step in (COST_CENTER_PHASE, BOTH_PHASE) and params.get("cost_center") is not None:
        done["cost_center"] = params["cost_center"]
        if device is not None:
            device.cost_center = params["cost_center"]
    following = steps[steps.index(step) + 1 :] if step in steps else []
    if following:
        return NextPhase(following[0], note=f"{step} confirmed", result=done)
    return done


SPEC = OperationSpec(
    name=ops.EDIT_USERNAME,
    params=EditUsernameParams,
    apply=apply,
    send=send,
    capability=ops.EDIT_USERNAME,
    key=key,
    plan=plan,
)
