"""What a carrier can do, declared as data, and the neutral records of a synchronous edit.

`base.py` assumes every write is asynchronous (a request id, then callbacks). A carrier such as
Control Center edits one device per synchronous call, with no request id and no callback, and
its result is confirmed afterwards by reading the device back or by its audit trail. These
records let the pipeline ask an adapter how an operation behaves instead of knowing the carrier:

- `CarrierCapabilities`: per integration, each operation it supports (`OperationCapability`:
  synchronous or asynchronous result, devices per request, how the result is confirmed, whether
  it can be dated, whether one request carries all its parts) and the account's rate-limit shape (`RateLimitShape`).
- `DeviceEditAccepted`: the carrier took a one-device edit; what was asked, when, and whether the
  answer says it is applied already or only accepted.
- `EditConfirmation`: what the confirmation found (confirmed, still pending, refused).

No carrier is named here; each adapter declares its own capabilities next to its code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from .base import CarrierDevice, CarrierExchange, DeviceRef, SyncActionResult, SyncDeviceResult

ResultMode = Literal["sync", "async"]
# callback: the carrier calls us; answer: the synchronous answer is the result; read_back: the
# device's details show it; audit_trail: the carrier's change log shows it (dated/late changes).
ConfirmMethod = Literal["callback", "answer", "read_back", "audit_trail"]
ConfirmState = Literal["confirmed", "pending", "refused"]


class UnsupportedOperation(ValueError):
    """The carrier has no call for this operation (intake answers it with a 422 problem)."""


@dataclass(frozen=True, slots=True)
class RateLimitShape:
    """How an account's calls are limited at the carrier.

    `calls` per `window_s` seconds (5 per 1 s, 1,000 per 3,600 s, ...); `concurrency`: calls in
    flight at once for the account (None: not limited); `throttled_code`: the carrier's code
    for "over the limit"; `retry_after_header`: whether that answer says how long to wait.
    """

    calls: float
    window_s: float
    concurrency: int | None = None
    throttled_code: str = ""
    retry_after_header: bool = False

    @property
    def per_minute(self) -> float:
        return self.calls * 60.0 / self.window_s


@dataclass(frozen=True, slots=True)
class OperationCapability:
    operation: str
    result: ResultMode
    devices_per_request: int
    confirmed_by: tuple[ConfirmMethod, ...]
    # The carrier can schedule it for a later date (confirmed from its audit trail when due).
    dated: bool = False
    note: str = ""
    # One request carries every part of the operation (EditUsername: the username and the cost
    # center in one edit). False: one request a part, each confirmed before the next is sent.
    single_request: bool = False


@dataclass(frozen=True, slots=True)
class CarrierCapabilities:
    integration: str
    operations: Mapping[str, OperationCapability]
    rate_limit: RateLimitShape
    # How many devices are read back at once: "device_list" (the whole list, paged),
    # "search_by_modification" (devices changed since a time, paged), "one_by_one".
    bulk_read: str = "one_by_one"
    # Operations the carrier has no call for, with the reason intake gives.
    unsupported: Mapping[str, str] = field(default_factory=dict)

    def supports(self, operation: str) -> bool:
        return operation in self.operations

    def operation(self, operation: str) -> OperationCapability:
        found = self.operations.get(operation)
        if found is None:
            reason = self.unsupported.get(operation, "the carrier has no such call")
            raise UnsupportedOperation(f"{self.integration} cannot {operation}: {reason}")
        return found


@dataclass(frozen=True, slots=True)
class DeviceEditAccepted:
    """A synchronous one-device edit the carrier accepted.

    `fields` are what was asked (the carrier's own field names and values); `applied` is True
    when the answer says it took effect now (e.g. 200), False when it was only accepted (a
    dated change, or a 202): either way a read-back or the audit trail confirms it.
    """

    device: DeviceRef
    fields: Mapping[str, str]
    sent_at: datetime
    effective_at: datetime | None
    applied: bool
    exchange: CarrierExchange

    def as_sync_result(self) -> SyncActionResult:
        message = "applied" if self.applied else "accepted; to be confirmed"
        return SyncActionResult(
            results=[SyncDeviceResult(self.device, True, message)], exchange=self.exchange
        )


@dataclass(frozen=True, slots=True)
class EditConfirmation:
    """What confirming a `DeviceEditAccepted` found, with every exchange it took."""

    device: DeviceRef
    state: ConfirmState
    reason: str
    method: ConfirmMethod
    seen: CarrierDevice | None
    exchanges: tuple[CarrierExchange, ...]
