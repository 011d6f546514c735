"""Worked examples for the OpenAPI docs, one per supported request shape."""

from __future__ import annotations

from typing import Any

from devicebulk_intake.bulk_changes.jasper_examples import JASPER_EXAMPLES
from devicebulk_intake.errors import ProblemError, responses

# Each example names devices of its own, so that every one of them succeeds once against the
# stack `make run` starts: `devicebulk-admin seed-demo --examples` puts each device in the state
# its example needs (`devicebulk_admin.demo_catalogue.EXAMPLE_DEVICES`, by these ICCIDs).
ACTIVATE = ["89148000008245117019", "89148000008245117027"]
PORTAL_ACTIVATE = ["89148000008245117035"]
SUSPEND = ["89148000008245117043", "89148000008245117050"]
RESTORE = ["89148000008245117068", "89148000008245117076"]
DEACTIVATE = ["89148000008245117084", "89148000008245117092"]
INVENTORY = ["89148000008245117100", "89148000008245117118"]
PLACE_OF_USE = ["89148000008245117126", "89148000008245117134"]  # active, preactive
ASSIGN_CUSTOMER = ["89148000008245117142"]
CUSTOMER_RATE_PLAN = ["89148000008245117159"]
ARCHIVAL = ["89148000008245117167"]
EDIT_USERNAME = ["89148000008245117175"]
CARRIER_RATE_PLAN = ["89148000008245117183"]
CHANGE_ICCID = ("89148000008245117191", "356938035717199", "89148000008245117209")
CHANGE_IMEI = ("89148000008245117217", "356938035717215", "356938035717223")
DELETION = ["89148000008245117233", "89148000008245117241"]
SUBMIT_EXAMPLES: dict[str, dict[str, Any]] = {
    "activate": {
        "summary": "Activate (ThingSpace, with place of use)",
        "description": "ChangeType 3, TargetStatus Active. ThingSpace needs a service plan and a "
        "ZIP code; the place of use is what E911 rules need where the account demands it.",
        "value": {
            "OverrideValidation": False,
            "Devices": ACTIVATE,
            "ServiceProviderId": 4,
            "ChangeType": 3,
            "StatusUpdate": {
                "TargetStatus": "Active",
                "ThingSpaceStatusUpdate": {
                    "ServicePlan": "M2M_4G",
                    "ZipCode": "92127",
                    "PrimaryPlaceOfUse": {
                        "Address": {
                            "AddressLine1": "9868 Scranton Rd",
                            "City": "San Diego",
                            "State": "CA",
                            "Zip": "92121",
                            "Country": "USA",
                        },
                        "CustomerName": {"FirstName": "Ada", "LastName": "Field"},
                    },
                },
            },
        },
    },
    "portal-status-update": {
        "summary": "The portal's status update, as it sends it today",
        "description": "Accepted verbatim. Without ThingSpace parameters an activation takes "
        "each device's current service plan; a device with none, or a request with no ZIP "
        "code, gets a ValidationFailed verdict with that reason.",
        "value": {
            "OverrideValidation": False,
            "Devices": PORTAL_ACTIVATE,
            "ServiceProviderId": 4,
            "ChangeType": 3,
            "StatusUpdate": {
                "TargetStatus": "Active",
                "JasperStatusUpdate": {"ReasonCode": "CUSTOMER_REQUEST"},
            },
        },
    },
    "suspend": {
        "summary": "Suspend",
        "value": {
            "Devices": SUSPEND,
            "ServiceProviderId": 4,
            "ChangeType": 3,
            "StatusUpdate": {"TargetStatus": "Suspend"},
        },
    },
    "restore": {
        "summary": "Restore a suspended device",
        "value": {
            "Devices": RESTORE,
            "ServiceProviderId": 4,
            "ChangeType": 3,
            "StatusUpdate": {"TargetStatus": "Restore"},
        },
    },
    "deactivate": {
        "summary": "Deactivate",
        "value": {
            "Devices": DEACTIVATE,
            "ServiceProviderId": 4,
            "ChangeType": 3,
            "StatusUpdate": {
                "TargetStatus": "Deactive",
                "ThingSpaceStatusUpdate": {"ReasonCode": "FF", "EtfWaiver": False},
            },
        },
    },
    "inventory": {
        "summary": "Add to the carrier's inventory (preactive)",
        "value": {
            "Devices": INVENTORY,
            "ServiceProviderId": 4,
            "ChangeType": 3,
            "StatusUpdate": {"TargetStatus": "Inventory"},
        },
    },
    "update-place-of-use": {
        "summary": "Update the place of use of active devices",
        "description": "ChangeType 3, TargetStatus Active, with a PrimaryPlaceOfUse: a device "
        "that is already active gets only its place of use sent again (operation "
        "`update_place_of_use`), never a second activation; preactive devices are activated.",
        "value": {
            "Devices": PLACE_OF_USE,
            "ServiceProviderId": 4,
            "ChangeType": 3,
            "StatusUpdate": {
                "TargetStatus": "Active",
                "ThingSpaceStatusUpdate": {
                    "ServicePlan": "M2M_4G",
                    "PrimaryPlaceOfUse": {
                        "Address": {
                            "AddressLine1": "1 Harbor Dr",
                            "City": "San Diego",
                            "State": "CA",
                            "Zip": "92101",
                            "Country": "USA",
                        },
                        "CustomerName": {"FirstName": "Ada", "LastName": "Field"},
                    },
                },
            },
        },
    },
    "assign-customer": {
        "summary": "1 CustomerAssignment: assign to a Rev customer",
        "description": "Database only. The Rev customer must be one of the tenant's, active.",
        "value": {
            "OverrideValidation": False,
            "Devices": ASSIGN_CUSTOMER,
            "ServiceProviderId": 4,
            "ChangeType": 1,
            "RevService": {"RevCustomerId": "12345", "CreateRevService": True},
        },
    },
    "customer-rate-plan": {
        "summary": "4 CustomerRatePlanChange: the tenant's rate plan, pool and allocation",
        "description": "Database only. Plan and pool must be the tenant's, active; any of the "
        "three may be left out.",
        "value": {
            "OverrideValidation": False,
            "Devices": CUSTOMER_RATE_PLAN,
            "ServiceProviderId": 4,
            "ChangeType": 4,
            "CustomerRatePlanUpdate": {
                "CustomerRatePlanId": 123,
                "CustomerRatePoolId": 456,
                "DataAllocationMB": 1024,
            },
        },
    },
    "archival": {
        "summary": "5 Archival",
        "description": "Database only; no payload. A device used in the last 30 days or with "
        "an active Rev service is refused unless OverrideValidation is true.",
        "value": {
            "OverrideValidation": False,
            "Devices": ARCHIVAL,
            "ServiceProviderId": 4,
            "ChangeType": 5,
        },
    },
    "edit-username": {
        "summary": "6 EditUsername: username and cost center",
        "description": "Username up to 50 characters (it goes into a ThingSpace custom field), "
        "cost center up to 36; either may be left out, not both.",
        "value": {
            "OverrideValidation": False,
            "Devices": EDIT_USERNAME,
            "ServiceProviderId": 4,
            "ChangeType": 6,
            "Username": {"NewUsername": "DEVICE_001", "CostCenter": "DEPT_SALES_001"},
        },
    },
    "carrier-rate-plan": {
        "summary": "7 CarrierRatePlanChange: the carrier's service plan",
        "description": "The plan must be one of the provider's active carrier rate plans. A "
        "suspended device, or one whose plan already changed 4 times this calendar month "
        "(UTC), is refused before the carrier is called.",
        "value": {
            "OverrideValidation": False,
            "Devices": CARRIER_RATE_PLAN,
            "ServiceProviderId": 4,
            "ChangeType": 7,
            "CarrierRatePlanUpdate": {"CarrierRatePlan": "STANDARD_PLAN_001"},
        },
    },
    "change-iccid": {
        "summary": "8 ChangeICCIDorIMEI: a new SIM (ICCID)",
        "description": "One pair per device; `Devices` may be left out. The device must be "
        "active with an MSISDN; the new ICCID must pass its Luhn check and be unknown to the "
        "inventory; every old identifier given must be the device's.",
        "value": {
            "OverrideValidation": False,
            "ServiceProviderId": 4,
            "ChangeType": 8,
            "IdentifierChanges": [
                {
                    "IdentifierType": "ICCID",
                    "OldICCID": CHANGE_ICCID[0],
                    "NewICCID": CHANGE_ICCID[2],
                    "OldIMEI": CHANGE_ICCID[1],
                    "AddCustomerRatePlan": False,
                }
            ],
        },
    },
    "change-imei": {
        "summary": "8 ChangeICCIDorIMEI: a new device (IMEI), with a customer rate plan",
        "value": {
            "ServiceProviderId": 4,
            "ChangeType": 8,
            "IdentifierChanges": [
                {
                    "IdentifierType": "IMEI",
                    "OldICCID": CHANGE_IMEI[0],
                    "OldIMEI": CHANGE_IMEI[1],
                    "NewIMEI": CHANGE_IMEI[2],
                    "AddCustomerRatePlan": True,
                    "CustomerRatePlanId": 123,
                }
            ],
        },
    },
    "device-deletion": {
        "summary": "9 DeviceDeletion: delete from the carrier's account",
        "description": "ChangeType 9 is device deletion (the portal's ninth operation); no "
        "payload. Only deactivated devices can be deleted.",
        "value": {"Devices": DELETION, "ServiceProviderId": 4, "ChangeType": 9},
    },
    **JASPER_EXAMPLES,
}

SUBMIT_DESCRIPTION = """
Validates every device, stores the bulk change with one row per device, and answers `202`
once everything has committed. Devices that fail validation are recorded with the reason
(`ValidationFailed`) and not sent to the carrier; the rest are queued, one message per device.
`POST /api/v1/bulk-changes/validate` answers the same verdicts without storing anything.

| ChangeType | name | payload key | operation(s) | at the carrier |
| --- | --- | --- | --- | --- |
| 1 | CustomerAssignment | `RevService` | `assign_customer` | no (database only) |
| 3 | StatusUpdate | `StatusUpdate` (TargetStatus Active, Suspend, Restore, Deactive, Inventory) | `activate` / `update_place_of_use`, `suspend`, `restore`, `deactivate`, `add` | yes |
| 4 | CustomerRatePlanChange | `CustomerRatePlanUpdate` | `change_customer_plan` | no (database only) |
| 5 | Archival | none | `archive` | no (database only) |
| 6 | EditUsername | `Username` | `edit_username` | yes (custom field, cost center) |
| 7 | CarrierRatePlanChange | `CarrierRatePlanUpdate` | `change_plan` | yes |
| 8 | ChangeICCIDorIMEI | `IdentifierChanges` (one pair a device; `Devices` optional) | `change_identifier` | yes |
| 9 | **DeviceDeletion** (device deletion) | none | `delete` | yes |

**By integration.** The provider's carrier decides what it accepts:

| integration | change types | StatusUpdate TargetStatus |
| --- | --- | --- |
| `thingspace` (Verizon ThingSpace) | all (1, 3-9) | `Active`, `Suspend`, `Restore`, `Deactive`, `Inventory` |
| `jasper` (Cisco Control Center, e.g. POD19) | 1, 3, 4, 5, 6, 7; **8 and 9 are a `422` problem** (`unsupported-change-type`): Control Center has no call that changes an ICCID or IMEI or deletes a device | a SIM status: `ACTIVATED`, `DEACTIVATED`, `ACTIVATION_READY`, `INVENTORY`, `RETIRED`, `TEST_READY` (any case), or the portal's `Active` (= `ACTIVATED`), `Deactive` (= `DEACTIVATED`), `Inventory` (= `INVENTORY`); `Suspend`, `Restore` and any other value are a `422` |

For a Control Center provider, 3 stores `set_status` with the SIM status to reach; a transition
the SIM status graph refuses (e.g. an `ACTIVATED` SIM back to `TEST_READY`: pre-activation is one
way) fails that device with the reason; a device not at the carrier yet is refused. 6 puts the
username and cost center in the account's custom fields (at most 50 characters each). 7 checks
the plan against the provider's catalogue only (ThingSpace's suspended-device and four-a-month
rules are ThingSpace's). `JasperStatusUpdate` is accepted and not needed. The rules below are
ThingSpace's where they differ.

Checked for every device: listed once, a valid ICCID (19-20 digits, Luhn), in the tenant's
inventory for this provider and not deleted, a valid IMEI. Then, by change type:

- **3**: a legal transition. Active from preactive or deactivated (needs a service plan, the
  request's or the device's, that exists for the provider and is active, as for 7, and a ZIP
  code, `ZipCode` or the place of use's); a device that is
  already active is refused, unless the activation carries a `PrimaryPlaceOfUse`: then only its
  place of use is updated. Suspend from active; Restore from suspended; Deactive from active or
  suspended; Inventory from a device not yet at the carrier.
- **1**: the Rev customer exists for the tenant and is active.
- **4**: the customer rate plan and pool (those given) exist for the tenant and are active.
- **5**: refused if the device was used in the last 30 days or has an active Rev service,
  unless `OverrideValidation` is true.
- **6**: a username of at most 50 characters, a cost center of at most 36, at least one given.
- **7**: the plan exists for the provider and is active; the device is not suspended and its
  plan has not changed 4 times already this calendar month (UTC).
- **8**: the device is active with an MSISDN; the old identifiers given are the device's; the
  new one passes its Luhn check and belongs to no device; `AddCustomerRatePlan` needs an active
  `CustomerRatePlanId` of the tenant.
- **9**: only a deactivated device can be deleted.

A request of the wrong shape (an unknown ChangeType, a missing payload, no devices, an unknown
provider, a change type or target status the provider's integration does not accept) is refused with a `422` problem and nothing is stored. If the provider's write
operations are disabled, a change type that calls the carrier (3, 6, 7, 8, 9) is stored with
Status `ERROR` and its `ErrorReason`, its valid devices `Cancelled`, nothing is sent, and the
report email goes out; the answer is still `202`. Database-only types (1, 4, 5) are not affected.

With an `Idempotency-Key` header, repeating the submit returns the first answer (same
`BulkChangeId`, `202`, header `Idempotent-Replayed: true`) instead of a second bulk change.
"""

VALIDATE_DESCRIPTION = """
The dry run: the same checks as a submit, and for every device the verdict a submit would
store (`Ok`, the `Operation` that would run, or the `Error`), in the order submitted. Nothing is
stored and nothing is sent. `ErrorReason` is set when the change could not run at all (the
provider's writes are disabled): a submit would store it as `ERROR`.
"""

CSV_DESCRIPTION = """
The devices in a `text/csv` body (UTF-8, a header row, one device a row); the rest of the
request, the same JSON as for `POST /api/v1/bulk-changes` without `Devices` or
`IdentifierChanges`, in the `X-Bulk-Change` header. Any change type.

- ChangeType 8 reads the columns `IdentifierType, OldICCID, NewICCID, OldIMEI, NewIMEI` and
  optionally `AddCustomerRatePlan` (true/false) and `CustomerRatePlanId`.
- Every other change type reads the column `ICCID`.

Column names are matched without regard to case; other columns are ignored; blank lines are
skipped. A row that cannot be read (an empty ICCID, too many fields, an unknown
IdentifierType, ...) refuses the whole upload with a `422` problem whose `errors` list the bad
rows by line number (the header is line 1); nothing is stored. A row that reads but breaks a
rule is judged like the same device sent as JSON. `Idempotency-Key` works as for JSON.

```
curl -X POST .../api/v1/bulk-changes/csv -H 'Content-Type: text/csv' -H "Authorization: Bearer $TOKEN" \\
  -H 'X-Bulk-Change: {"ServiceProviderId": 4, "ChangeType": 3, "StatusUpdate": {"TargetStatus": "Suspend"}}' \\
  --data-binary @devices.csv
```
"""

CSV_EXAMPLES: dict[str, dict[str, Any]] = {
    "iccids": {
        "summary": "Any change type but 8: one ICCID a row",
        "value": "ICCID\n89148000008245116615\n89148000008245116623\n",
    },
    "identifier-changes": {
        "summary": "ChangeType 8: one identifier pair a row",
        "value": "IdentifierType,OldICCID,NewICCID,OldIMEI,NewIMEI\n"
        "ICCID,89148000008245116615,89148000008245116623,356938035643809,\n",
    },
}


def problem_responses(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """``errors.responses`` with every problem named, also when several share a status (and
    the request validation problem, ``invalid-request``, that every route with input can
    answer)."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        entry = responses(err)[err.status]
        if err.status in out:
            out[err.status]["description"] += f"; {err.title} (`{err.slug}`)"
        else:
            out[err.status] = {**entry, "description": f"{err.title} (`{err.slug}`)"}
    if 422 in out:
        out[422]["description"] += "; Invalid request (`invalid-request`, with `errors`)"
    return out
