"""Device changes stored before intake kept their carrier parameters in ``params`` (rows in
flight during an upgrade): their parameters are read once more from the portal's request.

Remove once no device change of an older release can still be in flight."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devicebulk_common import operations as ops

_STATUS_PARAMS = {
    ops.ACTIVATE: ("zip_code", "place_of_use", "sku_number"),
    ops.UPDATE_PLACE_OF_USE: ("place_of_use",),
    ops.SUSPEND: ("with_billing",),
    ops.DEACTIVATE: ("reason_code", "etf_waiver", "delete_after"),
    ops.ADD: ("sku_number",),
}


def _place_of_use(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not raw:
        return None
    address, name = raw.get("Address") or {}, raw.get("CustomerName") or {}
    return {
        "address_line1": address.get("AddressLine1"),
        "address_line2": address.get("AddressLine2"),
        "city": address.get("City"),
        "state": address.get("State"),
        "zip": address.get("Zip"),
        "zip4": address.get("Zip4"),
        "country": address.get("Country"),
        "first_name": name.get("FirstName"),
        "last_name": name.get("LastName"),
    }


def with_carrier_params(
    op: str, params: dict[str, Any], request: Mapping[str, Any] | None
) -> dict[str, Any]:
    wanted = _STATUS_PARAMS.get(op)
    if not wanted or any(k in params for k in wanted) or not request:
        return params
    old = (request.get("StatusUpdate") or {}).get("ThingSpaceStatusUpdate") or {}
    found = {
        "zip_code": old.get("ZipCode"),
        "place_of_use": _place_of_use(old.get("PrimaryPlaceOfUse")),
        "sku_number": old.get("SkuNumber"),
        "with_billing": old.get("WithBilling"),
        "reason_code": old.get("ReasonCode"),
        "etf_waiver": bool(old.get("EtfWaiver")),
        "delete_after": bool(old.get("DeleteAfterDeactivation")),
    }
    return {**params, **{k: found[k] for k in wanted}}
