"""Request body parsing and the carrier's input checks."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request

from thingspace_sim.errors import failed, invalid

ID_PATTERNS = {
    "iccid": re.compile(r"\d{1,20}"),
    "imei": re.compile(r"\d{1,16}"),
    "meid": re.compile(r"[0-9A-Fa-f]{1,18}"),
    "esn": re.compile(r"[0-9A-Fa-f]{1,11}"),
    "eid": re.compile(r"\d{1,32}"),
    "mdn": re.compile(r"\d{10}"),
    "msisdn": re.compile(r"\d{1,15}"),
    "imsi": re.compile(r"\d{1,15}"),
    "min": re.compile(r"\d{10}"),
}
CUSTOM_FIELD_KEYS = {f"CustomField{n}" for n in range(1, 6)}
CUSTOM_FIELD_MAX = 50
COST_CENTER_MAX = 36


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise invalid("RequestBody.Invalid", f"Body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise invalid("RequestBody.Invalid", "Body must be a JSON object.")
    return body


def device_id(raw: Any) -> dict[str, str]:
    """One `{"kind", "id"}`, kind lower-cased; 400 Device.Identifier.Invalid otherwise."""
    if not isinstance(raw, dict):
        raise invalid("Device.Identifier.Invalid", f"Not a device identifier: {raw!r}")
    kind, value = raw.get("kind"), raw.get("id")
    if not isinstance(kind, str) or not isinstance(value, str | int):
        raise invalid("Device.Identifier.Invalid", f"Identifier needs kind and id: {raw!r}")
    kind, value = kind.strip().lower(), str(value).strip()
    pattern = ID_PATTERNS.get(kind)
    if pattern is None:
        raise invalid("Device.Identifier.Invalid", f"Unknown identifier kind {kind!r}.")
    if not pattern.fullmatch(value):
        raise invalid("Device.Identifier.Invalid", f"Invalid {kind} {value!r}.")
    return {"kind": kind, "id": value}


def device_ids(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise invalid("Device.Identifier.Invalid", "deviceIds must be a non-empty list.")
    return [device_id(item) for item in raw]


def devices(body: dict[str, Any], key: str, limit: int) -> list[list[dict[str, str]]]:
    """`[{"deviceIds": [...]}, ...]` under `key`, at most `limit` entries."""
    raw = body.get(key)
    if not isinstance(raw, list) or not raw:
        raise invalid(f"{key[:1].upper()}{key[1:]}.Missing", f"{key} is required.")
    if len(raw) > limit:
        raise failed("MaxRequestsExceeded", f"At most {limit} devices per request.")
    out = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise invalid("Device.Identifier.Invalid", f"Not a device: {entry!r}")
        out.append(device_ids(entry.get("deviceIds")))
    return out


def required_str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{key[:1].upper()}{key[1:]}.Missing", f"{key} is required.")
    return value


def optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"{key[:1].upper()}{key[1:]}.Invalid", f"{key} must be a string.")
    return value


def custom_fields(raw: Any, key: str = "customFields") -> dict[str, str]:
    """`[{"key": "CustomField1".."CustomField5", "value"}]`, values at most 50 characters."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise invalid("CustomField.Invalid", f"{key} must be a list.")
    out: dict[str, str] = {}
    for item in raw:
        name = item.get("key") if isinstance(item, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
        if name not in CUSTOM_FIELD_KEYS or not isinstance(value, str):
            raise invalid("CustomField.Invalid", f"Invalid custom field {item!r}.")
        if len(value) > CUSTOM_FIELD_MAX:
            raise invalid(
                "CustomField.TooLong", f"{name} value exceeds {CUSTOM_FIELD_MAX} characters."
            )
        out[name] = value
    return out


def cost_center(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid("CostCenter.Invalid", "costCenter must be a non-empty string.")
    if len(value) > COST_CENTER_MAX:
        raise invalid("CostCenter.TooLong", f"costCenter exceeds {COST_CENTER_MAX} characters.")
    return value
