"""The operation contract between intake and the worker.

Intake validates each device and stores what the worker must do in ``device_change.params``:
``{"op": <one of the names below>, ...the parameters listed with it}``. The worker runs the
operation registered under that name; the callback receiver applies that operation's effect.
Parameters are plain JSON values, snake_case, and everything the worker needs is in them (the
worker never reads the portal's request, nor re-validates). Each operation's parameters, batch
key, carrier call and the one function that records its confirmed result are its operation
spec: ``devicebulk_common/operation_specs/<op>.py``. The names are carrier-neutral: the
provider's ``integration`` decides which ops intake may store (see below).

Device ops that reach the carrier (ThingSpace):

- ``activate``: ``service_plan`` (str), ``zip_code``, ``place_of_use`` (snake_case address and
  name, or None), ``sku_number``. Async (callback).
- ``update_place_of_use``: ``place_of_use``: an already active device named in an activation:
  only its primary place of use is sent again, never a second activation.
- ``suspend``: ``with_billing`` (bool | None); ``restore``: none; ``deactivate``:
  ``reason_code`` (str | None: the carrier's default), ``etf_waiver``, ``delete_after`` (bool).
  Async.
- ``add``: ``sku_number``; add to the carrier's inventory as ``preactive``. Sync (per-device
  answer).
- ``delete``: only ``deactive`` devices; at most 100 devices a carrier request. Sync.
- ``change_plan``: ``service_plan`` (str); ``current_service_plan`` (str | None) is kept for the
  audit only (ThingSpace reads it as a filter, and our copy may be stale). Async.
- ``change_identifier``: ``identifier_type`` ("ICCID" | "IMEI"), ``old_iccid``, ``new_iccid``,
  ``old_imei``, ``new_imei`` (str | None each), ``customer_rate_plan_id`` (int | None). One
  device a request. Async.
- ``edit_username``: ``username`` (str | None, into the configured custom field),
  ``cost_center`` (str | None). Async, in two carrier requests: the worker records the step it
  is at in ``phase`` (set by the worker, never by intake).

Device ops that reach the carrier (Cisco Control Center, formerly Jasper; integration
``jasper``). Each is one synchronous ``PUT /devices/{iccid}`` confirmed afterwards (read-back or
audit trail); no callback:

- ``set_status``: ``status`` (str), the carrier's own SIM status the device must reach
  (``ACTIVATED``, ``DEACTIVATED``, ... per ``carriers.jasper.status_graph``); intake has checked
  the transition against the status graph from what it knew of the device.
- ``change_plan``: ``service_plan`` (str, the Control Center rate plan name),
  ``current_service_plan`` (str | None, audit only), as for ThingSpace.
- ``edit_username``: ``username`` (str | None), ``cost_center`` (str | None), each into the
  custom field the provider's Control Center settings name; one edit, no ``phase``.

A Control Center provider accepts no ``activate``, ``suspend``, ``restore``, ``deactivate``,
``add``, ``update_place_of_use``, ``delete`` or ``change_identifier`` (intake answers ChangeType 8
and 9 with a 422 problem).

Database-only ops (no carrier call; same worker path and audit trail; every integration):

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
SET_STATUS = "set_status"
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
        SET_STATUS,
    }
)
DATABASE_OPS = frozenset({CHANGE_CUSTOMER_PLAN, ASSIGN_CUSTOMER, ARCHIVE})
