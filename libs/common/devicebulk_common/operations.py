"""The operation contract between intake and the worker.

Intake validates each device and stores what the worker must do in ``device_change.params``:
``{"op": <one of the names below>, ...the parameters listed with it}``. The worker runs the
operation registered under that name; the callback receiver applies that operation's effect.
Parameters are plain JSON values, snake_case, and everything the worker needs is in them or in
the bulk change's stored request (the worker never re-validates).

Device ops that reach the carrier (ThingSpace):

- ``activate``: ``service_plan`` (str). Carrier parameters (ZIP, place of use, SKU) come from
  the request's ``StatusUpdate.ThingSpaceStatusUpdate``. Async (callback).
- ``update_place_of_use``: an already active device named in an activation: only its primary
  place of use is sent again, never a second activation.
- ``suspend``, ``restore``, ``deactivate``: no parameters (deactivation's reason code etc. come
  from the request). Async.
- ``add``: add to the carrier's inventory as ``preactive``. Sync (per-device answer).
- ``delete``: only ``deactive`` devices; at most 100 devices a carrier request. Sync.
- ``change_plan``: ``service_plan`` (str); ``current_service_plan`` (str | None) is kept for the
  audit only (ThingSpace reads it as a filter, and our copy may be stale). Async.
- ``change_identifier``: ``identifier_type`` ("ICCID" | "IMEI"), ``old_iccid``, ``new_iccid``,
  ``old_imei``, ``new_imei`` (str | None each), ``customer_rate_plan_id`` (int | None). One
  device a request. Async.
- ``edit_username``: ``username`` (str | None, into the configured custom field),
  ``cost_center`` (str | None). Async, in two carrier requests: the worker records the step it
  is at in ``phase`` (set by the worker, never by intake).

Database-only ops (no carrier call; same worker path and audit trail):

- ``change_customer_plan``: ``customer_rate_plan_id``, ``customer_rate_pool_id``,
  ``data_allocation_mb`` (int | None each).
- ``assign_customer``: ``rev_customer_id`` (str), ``create_rev_service`` (bool).
- ``archive``: no parameters (sets the device inactive and deleted).
"""

from __future__ import annotations

ACTIVATE = "activate"
UPDATE_PLACE_OF_USE = "update_place_of_use"
SUSPEND = "suspend"
RESTORE = "restore"
DEACTIVATE = "deactivate"
ADD = "add"
DELETE = "delete"
CHANGE_PLAN = "change_plan"
CHANGE_IDENTIFIER = "change_identifier"
EDIT_USERNAME = "edit_username"
CHANGE_CUSTOMER_PLAN = "change_customer_plan"
ASSIGN_CUSTOMER = "assign_customer"
ARCHIVE = "archive"

CARRIER_OPS = frozenset(
    {
        ACTIVATE,
        UPDATE_PLACE_OF_USE,
        SUSPEND,
        RESTORE,
        DEACTIVATE,
        ADD,
        DELETE,
        CHANGE_PLAN,
        CHANGE_IDENTIFIER,
        EDIT_USERNAME,
    }
)
DATABASE_OPS = frozenset({CHANGE_CUSTOMER_PLAN, ASSIGN_CUSTOMER, ARCHIVE})
