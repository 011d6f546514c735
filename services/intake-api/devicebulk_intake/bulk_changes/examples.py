"""Worked examples for the OpenAPI docs, one per supported request shape."""

from __future__ import annotations

from typing import Any

_DEVICES = ["89148000008245116615", "89148000008245116623"]

SUBMIT_EXAMPLES: dict[str, dict[str, Any]] = {
    "activate": {
        "summary": "Activate (ThingSpace, with place of use)",
        "description": "ChangeType 3, TargetStatus Active. ThingSpace needs a service plan and a "
        "ZIP code; the place of use is what E911 rules need where the account demands it.",
        "value": {
            "OverrideValidation": False,
            "Devices": _DEVICES,
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
            "Devices": ["89148000008245116615"],
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
            "Devices": _DEVICES,
            "ServiceProviderId": 4,
            "ChangeType": 3,
            "StatusUpdate": {"TargetStatus": "Suspend"},
        },
    },
    "restore": {
        "summary": "Restore a suspended device",
        "value": {
            "Devices": _DEVICES,
            "ServiceProviderId": 4,
            "ChangeType": 3,
            "StatusUpdate": {"TargetStatus": "Restore"},
        },
    },
    "deactivate": {
        "summary": "Deactivate",
        "value": {
            "Devices": _DEVICES,
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
            "Devices": _DEVICES,
            "ServiceProviderId": 4,
            "ChangeType": 3,
            "StatusUpdate": {"TargetStatus": "Inventory"},
        },
    },
}

SUBMIT_DESCRIPTION = """
Validates every device, stores the bulk change with one row per device, and answers `202`
once everything has committed. Devices that fail validation are recorded with the reason
(`ValidationFailed`) and not sent to the carrier; the rest are queued, one message per device.

| ChangeType | name | payload key | supported |
| --- | --- | --- | --- |
| 1 | CustomerAssignment | `RevService` | not yet |
| 3 | StatusUpdate | `StatusUpdate` (TargetStatus Active, Suspend, Restore, Deactive, Inventory) | yes |
| 4 | CustomerRatePlanChange | `CustomerRatePlanUpdate` | not yet |
| 5 | Archival | none | not yet |
| 6 | EditUsername | `Username` | not yet |
| 7 | CarrierRatePlanChange | `CarrierRatePlanUpdate` | not yet |
| 8 | ChangeICCIDorIMEI | `IdentifierChanges` | not yet |
| 9 | DeviceDeletion | none | not yet |

A change type that is not supported yet is refused with a `422` problem that names the
supported ones. Status transitions: Active from preactive or deactivated; Suspend from active;
Restore from suspended; Deactive from active or suspended; Inventory from a device not yet at
the carrier.
"""
