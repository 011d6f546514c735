"""ThingSpace's callback body (``requestId``, ``deviceIds``, ``deviceResponse`` keyed by
``<action>Response``, ``faultResponse``) read into the carrier-neutral :class:`ParsedCallback`."""

from __future__ import annotations

from typing import Any

from devicebulk_common import operations as ops
from devicebulk_common.callback_records import (
    MAX_ICCID,
    MAX_REQUEST_ID,
    MalformedCallback,
    ParsedCallback,
)
from devicebulk_common.operation_specs.edit_username import COST_CENTER_PHASE, USERNAME_PHASE

# The fault that says the device is already active (an activation asked twice).
ALREADY_ACTIVE = "DeviceAlreadyActive"

# ThingSpace's success payload key, ``<action>Response``, and the op (and step) it confirms.
RESPONSE_OPS: dict[str, tuple[str, str | None]] = {
    "activateResponse": (ops.ACTIVATE, None),
    "contactInfoResponse": (ops.UPDATE_PLACE_OF_USE, None),
    "suspendResponse": (ops.SUSPEND, None),
    "restoreResponse": (ops.RESTORE, None),
    "deactivateResponse": (ops.DEACTIVATE, None),
    "changeServicePlanResponse": (ops.CHANGE_PLAN, None),
    "changeIdentifierResponse": (ops.CHANGE_IDENTIFIER, None),
    "customFieldsUpdateResponse": (ops.EDIT_USERNAME, USERNAME_PHASE),
    "costCenterResponse": (ops.EDIT_USERNAME, COST_CENTER_PHASE),
}


def _ids(items: Any) -> dict[str, str]:
    if not isinstance(items, list):
        return {}
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("kind"), str) and "id" in item:
            out[item["kind"].lower()] = str(item["id"])
    return out


def parse(payload: Any) -> ParsedCallback:
    if not isinstance(payload, dict):
        raise MalformedCallback("callback body must be a JSON object")
    request_id = payload.get("requestId")
    if not isinstance(request_id, str) or not request_id:
        raise MalformedCallback("callback has no requestId")
    if len(request_id) > MAX_REQUEST_ID:
        raise MalformedCallback(f"requestId is longer than {MAX_REQUEST_ID} characters")
    device_ids = _ids(payload.get("deviceIds"))
    if not device_ids:
        raise MalformedCallback("callback has no deviceIds")
    if len(device_ids.get("iccid") or "") > MAX_ICCID:
        raise MalformedCallback(f"the ICCID is longer than {MAX_ICCID} characters")
    fault = payload.get("faultResponse")
    status = str(payload.get("status", "")).lower()
    ok = status == "success" and not fault
    response_key: str | None = None
    response_ids: dict[str, str] = {}
    response = payload.get("deviceResponse")
    if isinstance(response, dict) and response:
        response_key = next(iter(response))
        inner = response[response_key]
        if isinstance(inner, dict):
            response_ids = _ids(inner.get("deviceIds"))
    fault_code = fault_message = None
    if isinstance(fault, dict):
        fault_code = str(fault.get("faultcode") or "") or None
        fault_message = str(fault.get("faultstring") or "") or None
    elif not ok:
        fault_code = "CallbackFailed"
        fault_message = f"carrier reported status {payload.get('status')!r}"
    count = payload.get("callbackCount")
    return ParsedCallback(
        request_id=request_id,
        ok=ok,
        device_ids=device_ids,
        response_key=response_key,
        response_ids=response_ids,
        fault_code=fault_code,
        fault_message=fault_message,
        username=str(payload.get("username") or ""),
        password=str(payload.get("password") or ""),
        callback_count=count if isinstance(count, int) else 1,
        confirms=RESPONSE_OPS.get(response_key or "") if ok else None,
        already_done=(fault_code or "").endswith(ALREADY_ACTIVE),
    )
