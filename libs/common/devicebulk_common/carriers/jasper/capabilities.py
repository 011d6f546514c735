"""What the Control Center adapter can do, declared as data (see `carriers/capabilities.py`)."""

from __future__ import annotations

from ..capabilities import CarrierCapabilities, OperationCapability, RateLimitShape
from .config import JasperConfig

INTEGRATION = "jasper"
SET_STATUS = "set_status"  # to a Control Center SIM status (the portal's Jasper targets)
CHANGE_PLAN = "change_plan"
EDIT_USERNAME = "edit_username"

_NO_CALL = "Control Center has no REST call for it"


def capabilities(config: JasperConfig) -> CarrierCapabilities:
    def edit(operation: str, *, dated: bool, note: str) -> OperationCapability:
        # One PUT carries every field it changes (EditUsername: both custom fields at once).
        return OperationCapability(
            operation=operation,
            result="sync",
            devices_per_request=1,
            confirmed_by=("read_back", "audit_trail"),
            dated=dated,
            note=note,
            single_request=True,
        )

    return CarrierCapabilities(
        integration=INTEGRATION,
        operations={
            SET_STATUS: edit(SET_STATUS, dated=True, note="PUT /devices/{iccid} status"),
            CHANGE_PLAN: edit(CHANGE_PLAN, dated=True, note="PUT /devices/{iccid} ratePlan"),
            EDIT_USERNAME: edit(
                EDIT_USERNAME,
                dated=False,
                note=f"PUT /devices/{{iccid}} {config.username_field}, {config.cost_center_field}",
            ),
        },
        rate_limit=RateLimitShape(
            calls=config.calls_per_second,
            window_s=1.0,
            concurrency=config.concurrency,
            throttled_code="40000029",
            retry_after_header=False,
        ),
        bulk_read="search_by_modification",
        unsupported={
            "change_identifier": f"{_NO_CALL} (ICCID and IMEI cannot be changed)",
            "delete": f"{_NO_CALL} (a SIM is retired and purged through its status)",
            "activate": "use set_status with a Control Center status",
            "suspend": "use set_status (Control Center has no SUSPENDED status)",
            "restore": "use set_status with a Control Center status",
            "deactivate": "use set_status with a Control Center status",
            "add": f"{_NO_CALL} (SIMs are added by the operator)",
            "update_place_of_use": f"{_NO_CALL}",
        },
    )
