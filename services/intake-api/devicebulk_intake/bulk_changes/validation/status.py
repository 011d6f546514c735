"""ChangeType 3, StatusUpdate with the portal's targets: activate (or only update the place of
use of a device that is already active), suspend, restore, deactivate, add to the carrier's
inventory. What an activation needs is the carrier's (``ActivationCheck``: ``thingspace.py``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from devicebulk_common import operations as ops
from devicebulk_common.contracts import DeviceStatus, TargetStatus
from devicebulk_common.wire import BulkChangeRequest, ThingSpaceStatusParams
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


# The carrier parameters each operation stores in ``device_change.params`` (the worker never
# reads the request): see the operation specs in ``devicebulk_common.operation_specs``.
OP_PARAMS: dict[str, tuple[str, ...]] = {
    ops.ACTIVATE: ("zip_code", "place_of_use", "sku_number"),
    ops.SUSPEND: ("with_billing",),
    ops.DEACTIVATE: ("reason_code", "etf_waiver", "delete_after"),
    ops.ADD: ("sku_number",),
}


def carrier_params(ts: ThingSpaceStatusParams | None) -> dict[str, Any]:
    """The request's ThingSpace parameters, as the operation specs name them."""
    if ts is None:
        ts = ThingSpaceStatusParams()
    ppu = ts.PrimaryPlaceOfUse
    place = None
    if ppu is not None:
        address, name = ppu.Address, ppu.CustomerName
        place = {
            "address_line1": address.AddressLine1,
            "address_line2": address.AddressLine2,
            "city": address.City,
            "state": address.State,
            "zip": address.Zip,
            "zip4": address.Zip4,
            "country": address.Country,
            "first_name": name.FirstName,
            "last_name": name.LastName,
        }
    return {
        "zip_code": ts.ZipCode or (place["zip"] if place else None),
        "place_of_use": place,
        "sku_number": ts.SkuNumber,
        "with_billing": ts.WithBilling,
        "reason_code": ts.ReasonCode,
        "etf_waiver": ts.EtfWaiver,
        "delete_after": ts.DeleteAfterDeactivation,
    }


# What an activation with (service plan, ZIP code) lacks at the carrier, or None.
ActivationCheck = Callable[[str | None, str | None], str | None]


def status_update_rule(
    request: BulkChangeRequest,
    plans: Mapping[str, bool],
    provider_id: int,
    activation_problem: ActivationCheck,
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
    carrier = carrier_params(ts)
    # Shared by the devices that need nothing more (params are read-only).
    plain = {"op": op, **{k: carrier[k] for k in OP_PARAMS.get(op, ())}}
    update_place_of_use = {"op": ops.UPDATE_PLACE_OF_USE, "place_of_use": carrier["place_of_use"]}
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
        if lacking := activation_problem(plan, zip_code):
            return lacking
        assert plan is not None
        if problem := plan_problem(plan, plans, provider_id):
            return problem if wanted_plan else f"{problem} (the device's own plan)"
        if (params := activations.get(plan)) is None:
            params = activations[plan] = {"op": op, "service_plan": plan, **plain}
        return params

    return rule
