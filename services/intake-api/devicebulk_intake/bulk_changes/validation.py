"""Per-device validation, following the portal's rules. Each device gets a verdict: the
operation to run (and its parameters) or the reason it cannot run. Pure functions: the
service loads what they read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from devicebulk_common.contracts import DeviceStatus, TargetStatus
from devicebulk_common.identifiers import iccid_problem, imei_problem
from devicebulk_common.wire import BulkChangeRequest


@dataclass(frozen=True)
class DeviceSnapshot:
    """What validation reads of one device of the inventory."""

    id: int
    iccid: str
    imei: str | None
    status: str
    carrier_rate_plan: str | None
    is_deleted: bool


@dataclass
class Verdict:
    iccid: str
    device_id: int | None = None
    error: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


# Target status → (carrier operation, device statuses it may start from).
TRANSITIONS: dict[TargetStatus, tuple[str, frozenset[DeviceStatus]]] = {
    TargetStatus.ACTIVE: (
        "activate",
        frozenset({DeviceStatus.PREACTIVE, DeviceStatus.DEACTIVATED}),
    ),
    TargetStatus.SUSPEND: ("suspend", frozenset({DeviceStatus.ACTIVE})),
    TargetStatus.RESTORE: ("restore", frozenset({DeviceStatus.SUSPENDED})),
    TargetStatus.DEACTIVE: (
        "deactivate",
        frozenset({DeviceStatus.ACTIVE, DeviceStatus.SUSPENDED}),
    ),
    TargetStatus.INVENTORY: ("add", frozenset({DeviceStatus.NOT_PROVISIONED})),
}

_STATE_WORDS = {
    DeviceStatus.NOT_PROVISIONED: "not at the carrier yet",
    DeviceStatus.PREACTIVE: "preactive (in the carrier's inventory)",
    DeviceStatus.PENDING_ACTIVATION: "pending activation",
    DeviceStatus.ACTIVE: "active",
    DeviceStatus.SUSPENDED: "suspended",
    DeviceStatus.DEACTIVATED: "deactivated",
}


def check_identifiers(iccids: Iterable[str]) -> dict[str, str]:
    """Format and Luhn problems by ICCID as submitted."""
    return {iccid: p for iccid in set(iccids) if (p := iccid_problem(iccid))}


def status_update_verdicts(
    request: BulkChangeRequest, devices: dict[str, DeviceSnapshot]
) -> list[Verdict]:
    """Verdicts for a ChangeType 3 request, one per submitted ICCID, in order."""
    assert request.StatusUpdate is not None
    target = TargetStatus(request.StatusUpdate.TargetStatus)
    op, allowed_from = TRANSITIONS[target]
    ts = request.StatusUpdate.ThingSpaceStatusUpdate
    zip_code = None
    if ts is not None:
        zip_code = ts.ZipCode or (
            ts.PrimaryPlaceOfUse.Address.Zip if ts.PrimaryPlaceOfUse else None
        )
    problems = check_identifiers(request.Devices)
    verdicts: list[Verdict] = []
    seen: set[str] = set()
    for iccid in request.Devices:
        verdict = Verdict(iccid=iccid)
        verdicts.append(verdict)
        if iccid in seen:
            verdict.error = "device listed more than once in this request"
            continue
        seen.add(iccid)
        if iccid in problems:
            verdict.error = problems[iccid]
            continue
        device = devices.get(iccid)
        if device is None or device.is_deleted:
            verdict.error = "device not found for this tenant and service provider"
            continue
        verdict.device_id = device.id
        if device.imei and (problem := imei_problem(device.imei)):
            verdict.error = problem
            continue
        status = DeviceStatus(device.status)
        if status not in allowed_from:
            verdict.error = (
                f"cannot {op} a device that is {_STATE_WORDS[status]} "
                f"(target status {target.value} needs one that is "
                f"{' or '.join(sorted(_STATE_WORDS[s] for s in allowed_from))})"
            )
            continue
        verdict.params = {"op": op}
        if op == "activate":
            plan = (ts.ServicePlan if ts else None) or device.carrier_rate_plan
            if not plan:
                verdict.error = (
                    "activation needs a service plan (ThingSpaceStatusUpdate.ServicePlan)"
                )
                continue
            if not zip_code:
                verdict.error = "activation needs a ZIP code (ThingSpaceStatusUpdate.ZipCode)"
                continue
            verdict.params["service_plan"] = plan
    return verdicts
