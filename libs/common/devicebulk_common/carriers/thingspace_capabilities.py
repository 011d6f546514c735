"""What the ThingSpace adapter can do, declared as data (see `carriers/capabilities.py`).

Every write but add and delete is asynchronous: accepted with a request id, its per-device
result confirmed by the carrier's callback (or, when none comes, by reading the device list).
"""

from __future__ import annotations

from .capabilities import CarrierCapabilities, OperationCapability, RateLimitShape
from .thingspace_wire import MAX_ACTION_DEVICES, MAX_DELETE_DEVICES

INTEGRATION = "thingspace"
MAX_ADD_DEVICES = 1_000


def _callback(operation: str, devices: int = MAX_ACTION_DEVICES) -> OperationCapability:
    return OperationCapability(
        operation=operation,
        result="async",
        devices_per_request=devices,
        confirmed_by=("callback", "read_back"),
    )


def _answer(operation: str, devices: int) -> OperationCapability:
    return OperationCapability(
        operation=operation, result="sync", devices_per_request=devices, confirmed_by=("answer",)
    )


CAPABILITIES = CarrierCapabilities(
    integration=INTEGRATION,
    operations={
        op.operation: op
        for op in (
            _callback("activate"),
            _callback("update_place_of_use"),
            _callback("suspend"),
            _callback("restore"),
            _callback("deactivate"),
            _callback("change_plan"),
            _callback("change_identifier", devices=1),
            _callback("edit_username"),
            _answer("add", MAX_ADD_DEVICES),
            _answer("delete", MAX_DELETE_DEVICES),
        )
    },
    # The account's own limit is the provider's setting; 429 answers carry Retry-After.
    rate_limit=RateLimitShape(
        calls=1_000, window_s=60.0, throttled_code="429", retry_after_header=True
    ),
    bulk_read="device_list",
    unsupported={"set_status": "ThingSpace changes a status with its own call per target status"},
)
