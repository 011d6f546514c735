"""Whole-request checks: a problem here refuses the request (422/413) and nothing is stored.

They are about the request's shape (a known change type, its payload, a device list within the
limit, a known provider, a change type and target status the provider's carrier accepts). What
the portal's rules say about the values (a plan that does not exist, a username too long, ...)
is judged per device instead, and recorded with each device.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.models import ServiceProvider
from devicebulk_common.wire import BulkChangeRequest
from devicebulk_intake.bulk_changes.validation import integration
from devicebulk_intake.errors import PayloadTooLarge, Unprocessable, UnsupportedChangeType

SUPPORTED = frozenset(c.ChangeType)

# Change types whose devices are changed at the carrier (the others change only our database).
CARRIER_CHANGE_TYPES = frozenset(
    {
        c.ChangeType.STATUS_UPDATE,
        c.ChangeType.EDIT_USERNAME,
        c.ChangeType.CARRIER_RATE_PLAN_CHANGE,
        c.ChangeType.CHANGE_ICCID_OR_IMEI,
        c.ChangeType.DEVICE_DELETION,
    }
)

# The payload each change type needs (None: none).
PAYLOAD_KEYS: dict[c.ChangeType, str | None] = {
    c.ChangeType.CUSTOMER_ASSIGNMENT: "RevService",
    c.ChangeType.STATUS_UPDATE: "StatusUpdate",
    c.ChangeType.CUSTOMER_RATE_PLAN_CHANGE: "CustomerRatePlanUpdate",
    c.ChangeType.ARCHIVAL: None,
    c.ChangeType.EDIT_USERNAME: "Username",
    c.ChangeType.CARRIER_RATE_PLAN_CHANGE: "CarrierRatePlanUpdate",
    c.ChangeType.CHANGE_ICCID_OR_IMEI: "IdentifierChanges",
    c.ChangeType.DEVICE_DELETION: None,
}


def supported_names() -> str:
    return ", ".join(f"{t.value} ({t.name})" for t in sorted(SUPPORTED))


def writes_disabled_reason(provider_id: int) -> str:
    return f"write operations are disabled for service provider {provider_id}"


def device_count(request: BulkChangeRequest, change_type: c.ChangeType) -> int:
    if change_type is c.ChangeType.CHANGE_ICCID_OR_IMEI:
        return len(request.IdentifierChanges or [])
    return len(request.Devices)


def change_type_of(request: BulkChangeRequest) -> c.ChangeType:
    try:
        change_type = c.ChangeType(request.ChangeType)
    except ValueError:
        raise UnsupportedChangeType(
            f"ChangeType {request.ChangeType} does not exist; supported: {supported_names()}.",
            supported=[t.value for t in sorted(SUPPORTED)],
        ) from None
    if change_type not in SUPPORTED:  # pragma: no cover - every change type is supported
        raise UnsupportedChangeType(
            f"ChangeType {change_type.value} ({change_type.name}) is not supported; "
            f"supported: {supported_names()}.",
            supported=[t.value for t in sorted(SUPPORTED)],
        )
    return change_type


def _check_payload(request: BulkChangeRequest, change_type: c.ChangeType) -> None:
    key = PAYLOAD_KEYS[change_type]
    if key is not None and not getattr(request, key):
        what = "a non-empty list" if key == "IdentifierChanges" else "an object"
        raise Unprocessable(f"ChangeType {change_type.value} needs {key} ({what}).")
    if change_type is c.ChangeType.CHANGE_ICCID_OR_IMEI:
        pairs = request.IdentifierChanges or []
        named = {p.OldICCID for p in pairs}
        if request.Devices and set(request.Devices) != named:
            raise Unprocessable(
                "ChangeType 8 names its devices in IdentifierChanges (OldICCID); leave Devices "
                "out, or list exactly those ICCIDs."
            )
    elif not request.Devices:
        raise Unprocessable("Devices must list at least one ICCID.")


async def check_request(
    session: AsyncSession, request: BulkChangeRequest, *, max_devices: int
) -> tuple[c.ChangeType, ServiceProvider, integration.Carrier]:
    """The change type, the provider and its carrier (integration and options) of a request
    that passes the whole-request checks."""
    change_type = change_type_of(request)
    _check_payload(request, change_type)
    count = device_count(request, change_type)
    if count > max_devices:
        raise PayloadTooLarge(f"{count} devices in one bulk change; the limit is {max_devices}.")
    provider = await session.get(ServiceProvider, request.ServiceProviderId)
    if provider is None:
        raise Unprocessable(f"ServiceProviderId {request.ServiceProviderId} does not exist.")
    # What the provider's carrier accepts (validation/integration.py).
    carrier = integration.carrier_of(provider)
    integration.check_change_type(change_type, carrier)
    if change_type is c.ChangeType.STATUS_UPDATE:
        integration.check_target(request, carrier)
    return change_type, provider, carrier
