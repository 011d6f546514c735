"""The Control Center adapter behind the carrier-neutral interface (`CarrierAdapter`).

Control Center edits one device per synchronous `PUT` and has no request id and no callback.
Each edit is confirmed at once by reading the device back (or, for a dated, accepted-only or
late change, from its audit trail): confirmed is a per-device success whose `seen` is the
device read back; refused is a per-device failure with the reason; still pending becomes an
accepted request under a made-up id, so the device change awaits, and the worker's watchdog
reads the device back later (there is no callback to wait for). Operations Control Center has
no call for are declared unsupported in its capabilities; the worker refuses them before any
call, and the methods here raise ValueError if reached anyway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import structlog

from ..base import (
    AsyncRequestAccepted,
    CallbackRegistration,
    CarrierDevice,
    CarrierExchange,
    DeviceRef,
    SyncActionResult,
    SyncDeviceResult,
)
from ..capabilities import CarrierCapabilities, DeviceEditAccepted
from ..errors import CarrierError, CredentialsRefusedError
from .adapter import JasperAdapter

log = structlog.get_logger(__name__)

PENDING_PREFIX = "cc-pending"


class JasperCarrier:
    """`CarrierAdapter` for one Control Center account (wraps :class:`JasperAdapter`)."""

    def __init__(self, adapter: JasperAdapter) -> None:
        self.jasper = adapter

    @property
    def account_name(self) -> str:
        return self.jasper.account_name

    @property
    def capabilities(self) -> CarrierCapabilities:
        return self.jasper.capabilities

    async def _edit(
        self, devices: Sequence[DeviceRef], fields: Mapping[str, str]
    ) -> AsyncRequestAccepted | SyncActionResult:
        (device,) = devices  # one device a request (its capabilities say so)
        accepted = await self.jasper.edit(device, fields)
        try:
            confirmation = await self.jasper.confirm(accepted)
        except CarrierError as exc:
            # The edit was accepted: it must not be sent again. Confirming it is left to the
            # later read-back (the device change awaits), whatever kept us from reading now.
            log.info("carrier.confirm_deferred", iccid=device.iccid, code=exc.code)
            return self._pending(device, accepted)
        if confirmation.state == "pending":
            return self._pending(device, accepted)
        ok = confirmation.state == "confirmed"
        message = f"{'confirmed' if ok else 'refused'} ({confirmation.method}): "
        result = SyncDeviceResult(device, ok, message + confirmation.reason, confirmation.seen)
        return SyncActionResult(results=[result], exchange=accepted.exchange)

    @staticmethod
    def _pending(device: DeviceRef, accepted: DeviceEditAccepted) -> AsyncRequestAccepted:
        request_id = f"{PENDING_PREFIX}-{device.iccid}-{accepted.sent_at.timestamp():.0f}"
        return AsyncRequestAccepted(request_id=request_id, exchange=accepted.exchange)

    async def change_status(
        self, devices: Sequence[DeviceRef], status: str
    ) -> AsyncRequestAccepted | SyncActionResult:
        return await self._edit(devices, {"status": status})

    async def change_service_plan(
        self,
        devices: Sequence[DeviceRef],
        *,
        service_plan: str,
        current_service_plan: str | None = None,
    ) -> AsyncRequestAccepted | SyncActionResult:
        return await self._edit(devices, {"ratePlan": service_plan})

    async def set_username(
        self, devices: Sequence[DeviceRef], username: str
    ) -> AsyncRequestAccepted | SyncActionResult:
        return await self._edit(devices, {self.jasper.config.username_field: username})

    async def set_cost_center(
        self, devices: Sequence[DeviceRef], cost_center: str | None
    ) -> AsyncRequestAccepted | SyncActionResult:
        return await self._edit(devices, {self.jasper.config.cost_center_field: cost_center or ""})

    async def set_username_and_cost_center(
        self, devices: Sequence[DeviceRef], *, username: str | None, cost_center: str | None
    ) -> AsyncRequestAccepted | SyncActionResult:
        """One PUT carrying both custom fields (a None value is not sent)."""
        config = self.jasper.config
        fields = {
            name: value
            for name, value in (
                (config.username_field, username),
                (config.cost_center_field, cost_center),
            )
            if value is not None
        }
        if not fields:
            raise ValueError("edit_username needs a username or a cost center")
        return await self._edit(devices, fields)

    def list_devices(
        self, *, device: DeviceRef | None = None, state: str | None = None
    ) -> AsyncIterator[CarrierDevice]:
        return self.jasper.list_devices(device=device, state=state)

    async def read_devices(
        self, devices: Sequence[DeviceRef], *, since: datetime
    ) -> dict[str, CarrierDevice | CarrierError]:
        """Search Devices by modification time from ``since`` (pages of many devices); a device
        the search does not show has not changed since, and is read by its details: a device
        whose details fail to read maps to that error, and the others' reads stand."""
        seen: dict[str, CarrierDevice | CarrierError] = dict(
            await self.jasper.read_back(devices, since=since)
        )
        for device in devices:
            if device.iccid not in seen:
                try:
                    seen[device.iccid] = await self.jasper.get_device(device)
                except CarrierError as exc:
                    if isinstance(exc, CredentialsRefusedError):
                        raise  # the account's problem: no device can be read
                    seen[device.iccid] = exc
        return seen

    async def aclose(self) -> None:
        await self.jasper.aclose()

    # -- what Control Center has no call for -------------------------------------------

    def _none(self, what: str) -> ValueError:
        return ValueError(f"Control Center has no call to {what}")

    async def activate(self, devices: Sequence[DeviceRef], **kw: Any) -> AsyncRequestAccepted:
        raise self._none("activate (use a status change)")

    async def suspend(
        self, devices: Sequence[DeviceRef], *, with_billing: bool | None = None
    ) -> AsyncRequestAccepted:
        raise self._none("suspend (use a status change)")

    async def restore(self, devices: Sequence[DeviceRef]) -> AsyncRequestAccepted:
        raise self._none("restore (use a status change)")

    async def deactivate(self, devices: Sequence[DeviceRef], **kw: Any) -> AsyncRequestAccepted:
        raise self._none("deactivate (use a status change)")

    async def change_identifier(
        self, device_from: DeviceRef, device_to: DeviceRef, **kw: Any
    ) -> AsyncRequestAccepted:
        raise self._none("change an ICCID or IMEI")

    async def update_custom_fields(
        self, devices: Sequence[DeviceRef], fields: Mapping[str, str]
    ) -> AsyncRequestAccepted | SyncActionResult:
        return await self._edit(devices, fields)

    async def update_place_of_use(self, devices: Sequence[DeviceRef], place_of_use: Any) -> Any:
        raise self._none("update a place of use")

    async def add(self, devices: Sequence[DeviceRef], **kw: Any) -> SyncActionResult:
        raise self._none("add devices (the operator adds SIMs)")

    async def delete(self, devices: Sequence[DeviceRef]) -> SyncActionResult:
        raise self._none("delete devices (a SIM is retired through its status)")

    async def request_status(self, request_id: str) -> str:
        raise self._none("look up a request (edits are synchronous)")

    async def register_callback(
        self, url: str, username: str, password: str, name: str | None = None
    ) -> CarrierExchange:
        raise self._none("register a callback")

    async def list_callbacks(self) -> list[CallbackRegistration]:
        return []
