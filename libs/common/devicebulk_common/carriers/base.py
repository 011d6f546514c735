"""Carrier-neutral records and the interface every carrier adapter implements.

Each carrier implements it in its own package or modules (its wire format, its error codes,
its defaults stay there). Services depend on
`CarrierAdapter` and these dataclasses only, never on a carrier's wire format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .capabilities import CarrierCapabilities
    from .errors import CarrierError


@dataclass(frozen=True, slots=True)
class DeviceRef:
    """One device as we name it to a carrier: the ICCID, plus the IMEI when known."""

    iccid: str
    imei: str | None = None
    mdn: str | None = None


@dataclass(frozen=True, slots=True)
class CarrierExchange:
    """The audit record of one HTTP call to a carrier, secrets redacted.

    Headers are never recorded (they hold the access and session tokens); bodies pass
    through `devicebulk_common.carriers.redaction.redact_body` before they land here.
    `status_code` is None when no answer came (timeout, connection error).
    """

    operation: str
    method: str
    url: str
    request_body: str
    status_code: int | None
    response_body: str
    duration_ms: float


@dataclass(frozen=True, slots=True)
class AsyncRequestAccepted:
    """The carrier took an asynchronous action; per-device outcomes arrive as callbacks."""

    request_id: str
    exchange: CarrierExchange


@dataclass(frozen=True, slots=True)
class SyncDeviceResult:
    device: DeviceRef
    ok: bool
    message: str
    # The device as the carrier showed it when it confirmed the result (read back), if it did.
    seen: CarrierDevice | None = None


@dataclass(frozen=True, slots=True)
class SyncActionResult:
    """Per-device outcome of a synchronous action (add to inventory, delete)."""

    results: list[SyncDeviceResult]
    exchange: CarrierExchange

    @property
    def all_ok(self) -> bool:
        return all(result.ok for result in self.results)


@dataclass(frozen=True, slots=True)
class CarrierDevice:
    """One device as the carrier's device list shows it.

    `ids` maps the lower-case identifier kind ("iccid", "imei", "mdn", ...) to its value.
    """

    ids: dict[str, str]
    state: str
    # The state as our inventory names it (a DeviceStatus value; None: no such status of ours).
    status: str | None = None
    service_plan: str | None = None
    mdn: str | None = None
    msisdn: str | None = None
    custom_fields: dict[str, str] = field(default_factory=dict)
    last_activation: datetime | None = None
    last_connection: datetime | None = None
    connected: bool | None = None

    @property
    def iccid(self) -> str | None:
        return self.ids.get("iccid")


@dataclass(frozen=True, slots=True)
class PlaceOfUse:
    """Primary place of use (E911 address and customer name) for an activation."""

    address_line1: str
    city: str
    state: str
    zip: str
    country: str
    first_name: str
    last_name: str
    address_line2: str | None = None
    zip4: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackRegistration:
    account_name: str
    name: str
    url: str


@runtime_checkable
class CarrierAdapter(Protocol):
    """What the services need from a carrier, for the one account the adapter is bound to.

    `capabilities` says, per operation, whether its result is synchronous or arrives later,
    how many devices a request takes and how a result is confirmed, and how the account's calls
    are limited. Every call acts on `account_name`, the billing account the adapter was built for.
    Asynchronous actions return `AsyncRequestAccepted`; their per-device outcome arrives
    later as callbacks. Failures raise `devicebulk_common.carriers.errors.CarrierError`
    subclasses; invalid arguments raise ValueError before anything is sent.
    """

    @property
    def account_name(self) -> str: ...

    @property
    def capabilities(self) -> CarrierCapabilities: ...

    async def activate(
        self,
        devices: Sequence[DeviceRef],
        *,
        service_plan: str,
        zip_code: str,
        place_of_use: PlaceOfUse | None = None,
        sku_number: str | None = None,
        cost_center: str | None = None,
        custom_fields: Mapping[str, str] | None = None,
        group_name: str | None = None,
    ) -> AsyncRequestAccepted: ...

    async def suspend(
        self, devices: Sequence[DeviceRef], *, with_billing: bool | None = None
    ) -> AsyncRequestAccepted: ...

    async def change_status(
        self, devices: Sequence[DeviceRef], status: str
    ) -> AsyncRequestAccepted | SyncActionResult:
        """To one of the carrier's own statuses (a carrier whose statuses are data)."""
        ...

    async def restore(self, devices: Sequence[DeviceRef]) -> AsyncRequestAccepted: ...

    async def deactivate(
        self,
        devices: Sequence[DeviceRef],
        *,
        reason_code: str | None = None,
        etf_waiver: bool = False,
        delete_after: bool = False,
    ) -> AsyncRequestAccepted: ...

    async def change_service_plan(
        self,
        devices: Sequence[DeviceRef],
        *,
        service_plan: str,
        current_service_plan: str | None = None,
    ) -> AsyncRequestAccepted | SyncActionResult: ...

    async def change_identifier(
        self,
        device_from: DeviceRef,
        device_to: DeviceRef,
        *,
        identifier: str,
        service_plan: str | None = None,
        zip_code: str | None = None,
    ) -> AsyncRequestAccepted: ...

    async def update_custom_fields(
        self, devices: Sequence[DeviceRef], fields: Mapping[str, str]
    ) -> AsyncRequestAccepted: ...

    async def update_place_of_use(
        self, devices: Sequence[DeviceRef], place_of_use: PlaceOfUse
    ) -> AsyncRequestAccepted: ...

    async def set_username(
        self, devices: Sequence[DeviceRef], username: str
    ) -> AsyncRequestAccepted | SyncActionResult:
        """Where the username goes is the adapter's (a configured custom field)."""
        ...

    async def set_cost_center(
        self, devices: Sequence[DeviceRef], cost_center: str | None
    ) -> AsyncRequestAccepted | SyncActionResult: ...

    async def set_username_and_cost_center(
        self, devices: Sequence[DeviceRef], *, username: str | None, cost_center: str | None
    ) -> AsyncRequestAccepted | SyncActionResult:
        """Both in one request (None: left as it is), for a carrier whose EditUsername
        capability is ``single_request``; any other raises ValueError."""
        ...

    async def add(
        self,
        devices: Sequence[DeviceRef],
        *,
        state: str | None = None,
        sku_number: str | None = None,
    ) -> SyncActionResult: ...

    async def delete(self, devices: Sequence[DeviceRef]) -> SyncActionResult: ...

    def list_devices(
        self, *, device: DeviceRef | None = None, state: str | None = None
    ) -> AsyncIterator[CarrierDevice]: ...

    async def read_devices(
        self, devices: Sequence[DeviceRef], *, since: datetime
    ) -> dict[str, CarrierDevice | CarrierError]:
        """Many devices at once, by ICCID, the carrier's cheapest way (its capabilities'
        `bulk_read`); ``since``: none of them changed before (a carrier that searches by
        modification time reads only what changed since, and the rest one by one). A device
        missing from the answer is not at the carrier; a device whose own read failed maps to
        that error (the others' reads stand). A failed read of many devices at once raises."""
        ...

    async def request_status(self, request_id: str) -> str: ...

    async def register_callback(
        self, url: str, username: str, password: str, name: str | None = None
    ) -> CarrierExchange: ...

    async def list_callbacks(self) -> list[CallbackRegistration]: ...

    async def aclose(self) -> None: ...
