"""ChangeType 3, StatusUpdate: activate (or only update the place of use of a device that is
already active), suspend, restore, deactivate, add to the carrier's inventory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devicebulk_common import operations as ops
from devicebulk_common.contracts import DeviceStatus, TargetStatus
from devicebulk_common.wire import BulkChangeRequest
from devicebulk_intake.bulk_changes.validation.carrier_plan import plan_problem
from devicebulk_intake.bulk_changes.validation.common import (
    STATE_WORDS,
    DeviceSnapshot,
    Rule,
    state_words,
)

# Target status → (carrier operation, device statuses it may start from).
TRANSITIONS: dict[TargetStatus, tuple[str, frozenset[DeviceStatus]]] = {
    TargetStatus.ACTIVE: (
        ops.ACTIVATE,
        frozenset({DeviceStatus.PREACTIVE, DeviceStatus.DEACTIVATED}),
    ),
    TargetStatus.SUSPEND: (ops.SUSPEND, frozenset({DeviceStatus.ACTIVE})),
    TargetStatus.RESTORE: (ops.RESTORE, frozenset({DeviceStatus.SUSPENDED})),
    TargetStatus.DEACTIVE: (
        ops.DEACTIVATE,
        frozenset({DeviceStatus.ACTIVE, DeviceStatus.SUSPENDED}),
    ),
    TargetStatus.INVENTORY: (ops.ADD, frozenset({DeviceStatus.NOT_PROVISIONED})),
}

ALREADY_ACTIVE = (
    "device is already active (an activation that carries a PrimaryPlaceOfUse updates an "
    "active device's place of use instead)"
)


def requested_plan(request: BulkChangeRequest) -> str | None:
    """The service plan an activation names (None: each device's own plan is used)."""
    assert request.StatusUpdate is not None
    ts = request.StatusUpdate.ThingSpaceStatusUpdate
    return ts.ServicePlan if ts else None


def activates(request: BulkChangeRequest) -> bool:
    assert request.StatusUpdate is not None
    return request.StatusUpdate.TargetStatus == TargetStatus.ACTIVE.value


def status_update_rule(
    request: BulkChangeRequest, plans: Mapping[str, bool], provider_id: int
) -> Rule:
    """``plans``: ``{code: is_active}`` of the provider's carrier plans among those the
    activation would send (the requested plan, or the devices' own): each is checked against
    the catalogue like a plan change's (``carrier_plan.plan_problem``)."""
    assert request.StatusUpdate is not None
    target = TargetStatus(request.StatusUpdate.TargetStatus)
    op, allowed_from = TRANSITIONS[target]
    ts = request.StatusUpdate.ThingSpaceStatusUpdate
    wanted_plan = requested_plan(request)
    has_place_of_use = ts is not None and ts.PrimaryPlaceOfUse is not None
    zip_code = None
    if ts is not None:
        zip_code = ts.ZipCode or (
            ts.PrimaryPlaceOfUse.Address.Zip if ts.PrimaryPlaceOfUse else None
        )
    needs = " or ".join(sorted(STATE_WORDS[s] for s in allowed_from))
    # Shared by the devices that need nothing more (params are read-only).
    plain = {"op": op}
    update_place_of_use = {"op": ops.UPDATE_PLACE_OF_USE}
    activations: dict[str, dict[str, Any]] = {}  # by service plan

    def rule(device: DeviceSnapshot) -> dict[str, Any] | str:
        if target is TargetStatus.ACTIVE and device.status == DeviceStatus.ACTIVE:
            return update_place_of_use if has_place_of_use else ALREADY_ACTIVE
        if device.status not in allowed_from:
            return (
                f"cannot {op} a device that is {state_words(device.status)} "
                f"(target status {target.value} needs one that is {needs})"
            )
        if op != ops.ACTIVATE:
            return plain
        plan = wanted_plan or device.carrier_rate_plan
        if not plan:
            return "activation needs a service plan (ThingSpaceStatusUpdate.ServicePlan)"
        if not zip_code:
            return "activation needs a ZIP code (ThingSpaceStatusUpdate.ZipCode)"
        if problem := plan_problem(plan, plans, provider_id):
            return problem if wanted_plan else f"{problem} (the device's own plan)"
        if (params := activations.get(plan)) is None:
            params = activations[plan] = {"op": op, "service_plan": plan}
        return params

    return rule
