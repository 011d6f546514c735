"""The OpenAPI examples for a Cisco Control Center provider: POD19 (id 19), which `make run`
seeds next to the ThingSpace one. As for ThingSpace's, each names devices of its own, which
`devicebulk-admin seed-demo --examples` puts in the state it needs
(`devicebulk_admin.demo_jasper.JASPER_EXAMPLE_DEVICES`, by these ICCIDs)."""

from __future__ import annotations

from typing import Any

# The POD19 provider (id 19, Cisco Control Center) that `make run` seeds next to ThingSpace's.
POD19 = 19
JASPER_ACTIVATE = ["8914800019900000015", "8914800019900000023"]  # ACTIVATION_READY
JASPER_DEACTIVATE = ["8914800019900000031", "8914800019900000049"]  # ACTIVATED
JASPER_RATE_PLAN = ["8914800019900000056"]  # ACTIVATED, on "M2M 1GB"
JASPER_USERNAME = ["8914800019900000064"]  # ACTIVATED

JASPER_EXAMPLES: dict[str, dict[str, Any]] = {
    "jasper-activate": {
        "summary": "Control Center (POD19): activate, as the portal sends it",
        "description": "ChangeType 3 for a Cisco Control Center provider: `TargetStatus` "
        "`Active` means the SIM status `ACTIVATED` (stored as `set_status`); "
        "`JasperStatusUpdate` is accepted. No plan or ZIP code is needed.",
        "value": {
            "Devices": JASPER_ACTIVATE,
            "ServiceProviderId": POD19,
            "ChangeType": 3,
            "StatusUpdate": {
                "TargetStatus": "Active",
                "JasperStatusUpdate": {"ReasonCode": "CUSTOMER_REQUEST"},
            },
        },
    },
    "jasper-deactivate": {
        "summary": "Control Center (POD19): a SIM status by name",
        "description": "ChangeType 3 naming the Control Center SIM status itself "
        "(`DEACTIVATED`; any of ACTIVATED, DEACTIVATED, ACTIVATION_READY, INVENTORY, "
        "RETIRED, TEST_READY). A transition the status graph refuses fails that device.",
        "value": {
            "Devices": JASPER_DEACTIVATE,
            "ServiceProviderId": POD19,
            "ChangeType": 3,
            "StatusUpdate": {"TargetStatus": "DEACTIVATED"},
        },
    },
    "jasper-carrier-rate-plan": {
        "summary": "Control Center (POD19): change the rate plan",
        "description": "ChangeType 7 for a Control Center provider: the rate plan by name, from "
        "the provider's catalogue.",
        "value": {
            "Devices": JASPER_RATE_PLAN,
            "ServiceProviderId": POD19,
            "ChangeType": 7,
            "CarrierRatePlanUpdate": {"CarrierRatePlan": "M2M 5GB"},
        },
    },
    "jasper-edit-username": {
        "summary": "Control Center (POD19): username and cost center",
        "description": "ChangeType 6 for a Control Center provider: both go into the account's "
        "custom fields (accountCustom1, accountCustom2), at most 50 characters each.",
        "value": {
            "Devices": JASPER_USERNAME,
            "ServiceProviderId": POD19,
            "ChangeType": 6,
            "Username": {"NewUsername": "field-unit-7", "CostCenter": "CC-4410"},
        },
    },
}
