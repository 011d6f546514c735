"""What an operation spec is: everything one operation (``params["op"]``) means, in one place.

An :class:`OperationSpec` holds an operation's typed parameters (what intake stores in
``device_change.params``), the carrier capability it needs, how its devices batch into one
carrier request (``key``, ``max_devices``), the carrier call itself, how a carrier's view of a
device shows it done or under way (``shown``), and ONE function, ``apply``, that records a
confirmed result on our records. ``apply`` is what every path that learns of a result calls:
a carrier callback (the receiver's reconciliation), a synchronous answer (the worker), the
resume check after an interrupted attempt and the watchdog of a missing callback (both read
the device back). So the paths cannot disagree about what a result does to a device.

A database-only operation has no carrier call (``send`` is None): its ``apply`` is the change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from devicebulk_common.carriers.base import (
    AsyncRequestAccepted,
    CarrierAdapter,
    CarrierDevice,
    DeviceRef,
    SyncActionResult,
)
from devicebulk_common.carriers.capabilities import OperationCapability

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from devicebulk_common.models import Device, DeviceChange

Via = Literal["callback", "answer", "read_back", "database"]
Verdict = Literal["done", "pending", "not-done"]


class Params(BaseModel):
    """An operation's parameters as stored in ``device_change.params`` (``op`` included).

    Extra keys are kept: the worker adds its own bookkeeping (``phase``, ``ask_first``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    op: str


@dataclass(frozen=True)
class Confirmed:
    """What the carrier says of a device whose operation took effect, whichever path told us:
    the identifiers it reported (``mdn``, ``msisdn``, a new ``iccid``/``imei``) and, when
    known, its service plan and status (neutral :class:`~devicebulk_common.contracts.DeviceStatus`
    value)."""

    via: Via
    ids: Mapping[str, str] = field(default_factory=dict)
    service_plan: str | None = None
    status: str | None = None

    @classmethod
    def read_back(cls, device: CarrierDevice | None, *, via: Via = "read_back") -> Confirmed:
        """From the carrier's view of the device (its device list, its details)."""
        if device is None:
            return cls(via)
        ids = {k: v for k, v in device.ids.items() if v}
        if device.mdn:
            ids["mdn"] = device.mdn
        if device.msisdn:
            ids["msisdn"] = device.msisdn
        return cls(via, ids, device.service_plan, device.status)


@dataclass(frozen=True)
class NextPhase:
    """The result confirmed one step; the device change is queued again with
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


# Records a confirmed result: runs in the caller's transaction, with the device change (and
# its device, None if gone from the inventory) locked; changes the device in memory (the
# session writes it) and returns the result stored on the device change, or NextPhase.
Apply = Callable[
    ["AsyncSession", "Device | None", "DeviceChange", Confirmed],
    Awaitable["dict[str, Any] | NextPhase"],
]
# One carrier request for devices that share their parameters (the first's are sent).
Send = Callable[
    [CarrierAdapter, Sequence[DeviceRef], Mapping[str, Any]],
    Awaitable["AsyncRequestAccepted | SyncActionResult"],
]
# What the carrier's view of the device (None: not listed) says: (verdict, note).
Shown = Callable[[Mapping[str, Any], "CarrierDevice | None"], "tuple[Verdict, str]"]
BatchKey = Callable[[Mapping[str, Any]], Hashable | None]
# The params this carrier runs, given its capability for the operation (e.g. the steps it
# takes), or None to keep them. Called when an attempt starts; the worker stores the result,
# so every later path (the answer, the resume check, the watchdog, a callback) reads the same.
Plan = Callable[[Mapping[str, Any], OperationCapability], "dict[str, Any] | None"]


def alone(params: Mapping[str, Any]) -> Hashable | None:
    """Never shares a carrier request."""
    return None


def together(params: Mapping[str, Any]) -> Hashable | None:
    """Every device of one account and bulk change shares the request."""
    return ()


@dataclass(frozen=True)
class OperationSpec:
    name: str
    params: type[Params]
    apply: Apply
    # The carrier call; None for a database-only operation.
    send: Send | None = None
    # The capability (operation name in the adapter's CarrierCapabilities) it needs.
    capability: str | None = None
    key: BatchKey = alone
    max_devices: int = 10_000
    # None: the carrier's view cannot show it; an interrupted attempt is sent again.
    shown: Shown | None = None
    # None: the params are the same for every carrier.
    plan: Plan | None = None

    @property
    def local(self) -> bool:
        return self.send is None

    def parse(self, params: Mapping[str, Any]) -> Params:
        return self.params.model_validate(dict(params))


def status_shown(done: frozenset[str], pending: frozenset[str] = frozenset()) -> Shown:
    """Done when the carrier shows the device in one of ``done`` (neutral statuses)."""

    def shown(params: Mapping[str, Any], device: CarrierDevice | None) -> tuple[Verdict, str]:
        if device is None:
            return "not-done", "carrier does not list the device"
        if device.status in done:
            return "done", f"carrier already shows the device {device.state}"
        if device.status in pending:
            return "pending", f"carrier shows the device {device.state}"
        return "not-done", f"carrier shows the device {device.state}"

    return shown


def set_status(device: Device | None, status: str) -> dict[str, Any]:
    if device is not None:
        device.status = status
    return {"status": status}
