"""ThingSpace's JSON shapes: request bodies out, answers in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .base import CarrierDevice, DeviceRef, PlaceOfUse, SyncDeviceResult

MAX_ACTION_DEVICES = 10_000
MAX_DELETE_DEVICES = 100
CUSTOM_FIELD_KEYS = frozenset(f"CustomField{i}" for i in range(1, 6))
MAX_CUSTOM_FIELD_LEN = 50
MAX_COST_CENTER_LEN = 36
# ThingSpace's defaults and option names (they stay in this adapter).
DEFAULT_REASON_CODE = "FF"
DEFAULT_USERNAME_FIELD = "CustomField1"
CALLBACK_SERVICE = "CarrierService"
CHANGE_OPTIONS = {"ICCID": "ChangeICCID", "IMEI": "ChangeIMEI"}
ADD_STATE = "preactive"
# ThingSpace's device states → our inventory's (DeviceStatus values).
STATUSES = {
    "preactive": "preactive",
    "pending activation": "pending_activation",
    "active": "active",
    "suspend": "suspended",
    "suspended": "suspended",
    "deactive": "deactivated",
    "deactivated": "deactivated",
}


def device_ids(device: DeviceRef) -> list[dict[str, str]]:
    ids = [{"kind": "iccid", "id": device.iccid}]
    if device.imei:
        ids.append({"kind": "imei", "id": device.imei})
    return ids


def devices_body(devices: Sequence[DeviceRef], *, limit: int = MAX_ACTION_DEVICES) -> list[Any]:
    if not devices:
        raise ValueError("no devices given")
    if len(devices) > limit:
        raise ValueError(f"{len(devices)} devices in one request; the carrier takes {limit}")
    return [{"deviceIds": device_ids(device)} for device in devices]


def place_of_use_body(place: PlaceOfUse) -> dict[str, Any]:
    address = {
        "addressLine1": place.address_line1,
        "addressLine2": place.address_line2,
        "city": place.city,
        "state": place.state,
        "zip": place.zip,
        "zip4": place.zip4,
        "country": place.country,
    }
    return {
        "address": {key: value for key, value in address.items() if value is not None},
        "customerName": {"firstName": place.first_name, "lastName": place.last_name},
    }


def custom_fields_body(fields: Mapping[str, str]) -> list[dict[str, str]]:
    if not fields:
        raise ValueError("no custom fields given")
    for key, value in fields.items():
        if key not in CUSTOM_FIELD_KEYS:
            raise ValueError(f"unknown custom field {key!r}; use CustomField1..CustomField5")
        if len(value) > MAX_CUSTOM_FIELD_LEN:
            raise ValueError(f"{key} is longer than {MAX_CUSTOM_FIELD_LEN} characters")
    return [{"key": key, "value": value} for key, value in fields.items()]


def check_cost_center(cost_center: str) -> str:
    if not cost_center or len(cost_center) > MAX_COST_CENTER_LEN:
        raise ValueError(f"cost center must be 1 to {MAX_COST_CENTER_LEN} characters")
    return cost_center


def parse_ids(raw: Any) -> dict[str, str]:
    """`[{"kind": "Iccid", "id": ...}, ...]` as {"iccid": ...}: kinds compared lower-case."""
    ids: dict[str, str] = {}
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict) and item.get("kind") and item.get("id") is not None:
                ids[str(item["kind"]).lower()] = str(item["id"])
    return ids


def _key_values(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items() if v is not None}
    out: dict[str, str] = {}
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict) and "key" in item and item.get("value") is not None:
                out[str(item["key"])] = str(item["value"])
    return out


def parse_datetime(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def parse_device(raw: Mapping[str, Any]) -> CarrierDevice:
    ids = parse_ids(raw.get("deviceIds"))
    infos = raw.get("carrierInformations")
    info: Mapping[str, Any] = infos[0] if isinstance(infos, list) and infos else {}
    connected = raw.get("connected")
    state = str(info.get("state") or "unknown")
    return CarrierDevice(
        ids=ids,
        state=state,
        status=STATUSES.get(state.lower()),
        service_plan=info.get("servicePlan") or None,
        mdn=ids.get("mdn"),
        msisdn=ids.get("msisdn"),
        custom_fields=_key_values(raw.get("customFields")),
        last_activation=parse_datetime(raw.get("lastActivationDate")),
        last_connection=parse_datetime(raw.get("lastConnectionDate")),
        connected=connected if isinstance(connected, bool) else None,
    )


def next_cursor(page: Mapping[str, Any]) -> Any:
    """The `largestDeviceIdSeen` to ask for the next page with (UNCONFIRMED shape).

    Taken from the page itself when it names one (`largestDeviceIdSeen` or
    `lastSeenDeviceId`), else from the last device's `extendedAttributes` "DeviceId", else the
    last device's ICCID (pages come in ICCID order; the client names the largest it has seen).
    """
    for key in ("largestDeviceIdSeen", "lastSeenDeviceId"):
        if page.get(key) not in (None, ""):
            return page[key]
    devices = page.get("devices")
    if isinstance(devices, list) and devices and isinstance(devices[-1], dict):
        attributes = _key_values(devices[-1].get("extendedAttributes"))
        for key, value in attributes.items():
            if key.lower() == "deviceid":
                return int(value) if value.isdigit() else value
        for item in devices[-1].get("deviceIds") or []:
            if isinstance(item, dict) and str(item.get("kind", "")).lower() == "iccid":
                return item.get("id")
    return None


def _sync_items(payload: Any) -> list[Any] | None:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for key in ("devices", "results"):
            if isinstance(payload.get(key), list):
                return list(payload[key])
    return None


def parse_sync_results(
    payload: Any, requested: Sequence[DeviceRef]
) -> list[SyncDeviceResult] | None:
    """Per-device results of add/delete, in the order asked; None if the shape is unknown.

    Each item carries its outcome under "response" or "status". A device the answer
    leaves out is reported as not done.
    """
    items = _sync_items(payload)
    if items is None:
        return None
    by_iccid = {device.iccid: device for device in requested}
    by_imei = {device.imei: device for device in requested if device.imei}
    found: dict[str, SyncDeviceResult] = {}
    extra: list[SyncDeviceResult] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        ids = parse_ids(item.get("deviceIds"))
        outcome = str(item.get("response") or item.get("status") or "")
        message = str(item.get("message") or outcome)
        device = by_iccid.get(ids.get("iccid", "")) or by_imei.get(ids.get("imei", ""))
        if device is None:
            ref = DeviceRef(iccid=ids.get("iccid", ""), imei=ids.get("imei"), mdn=ids.get("mdn"))
            extra.append(SyncDeviceResult(ref, outcome.lower() == "success", message))
        else:
            found[device.iccid] = SyncDeviceResult(device, outcome.lower() == "success", message)
    results = [
        found.get(device.iccid) or SyncDeviceResult(device, False, "absent from the answer")
        for device in _unique(requested)
    ]
    return results + extra


def _unique(devices: Iterable[DeviceRef]) -> list[DeviceRef]:
    seen: set[str] = set()
    out = []
    for device in devices:
        if device.iccid not in seen:
            seen.add(device.iccid)
            out.append(device)
    return out
