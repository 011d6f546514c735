"""What every change type's validation shares: the device snapshot it reads, the verdict it
writes, and the checks every device passes first (listed once, a valid ICCID, in the tenant's
inventory for this provider, a valid IMEI)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.identifiers import iccid_problem, imei_problem

NOT_FOUND = "device not found for this tenant and service provider"
LISTED_TWICE = "device listed more than once in this request"


@dataclass(frozen=True)
class DeviceSnapshot:
    """What validation reads of one device of the inventory."""

    id: int
    iccid: str
    imei: str | None
    msisdn: str | None
    status: str
    carrier_rate_plan: str | None
    last_usage_at: datetime | None
    is_deleted: bool
    # Loaded only for the change types that read them.
    plan_changes_this_month: int = 0
    has_active_rev_service: bool = False


@dataclass
class Verdict:
    """One device's part of a bulk change: the operation to run (``params["op"]`` and its
    parameters, per ``devicebulk_common.operations``) or why it cannot run.

    ``params`` is read-only: devices with the same parameters share one dict."""

    iccid: str
    device_id: int | None = None
    error: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def op(self) -> str | None:
        return self.params.get("op") if self.ok else None


# A change type's rule for one device that passed the common checks: the operation's params
# (``{"op": ..., ...}``) or the reason it cannot run.
Rule = Callable[[DeviceSnapshot], "dict[str, Any] | str"]

STATE_WORDS = {
    DeviceStatus.NOT_PROVISIONED: "not at the carrier yet",
    DeviceStatus.PREACTIVE: "preactive (in the carrier's inventory)",
    DeviceStatus.PENDING_ACTIVATION: "pending activation",
    DeviceStatus.ACTIVE: "active",
    DeviceStatus.SUSPENDED: "suspended",
    DeviceStatus.DEACTIVATED: "deactivated",
}


def state_words(status: str) -> str:
    try:
        return STATE_WORDS[DeviceStatus(status)]
    except ValueError:
        return status


def iccid_problems(iccids: Iterable[str]) -> dict[str, str]:
    """Format and Luhn problems by ICCID as submitted."""
    return {iccid: p for iccid in set(iccids) if (p := iccid_problem(iccid))}


def screen(
    verdict: Verdict, device: DeviceSnapshot | None, *, check_imei: bool = True
) -> DeviceSnapshot | None:
    """The inventory checks: the device exists for the tenant and provider, is not deleted,
    and its IMEI (if it has one) is valid. Records the failure and returns None, or the device.
    ``check_imei=False`` for a change that replaces the IMEI."""
    if device is None or device.is_deleted:
        verdict.error = NOT_FOUND
        return None
    verdict.device_id = device.id
    if check_imei and device.imei and (problem := imei_problem(device.imei)):
        verdict.error = problem
        return None
    return device


def judge(
    iccids: Sequence[str], devices: Mapping[str, DeviceSnapshot], rule: Rule
) -> list[Verdict]:
    """One verdict per submitted ICCID, in order: the common checks, then ``rule``."""
    problems = iccid_problems(iccids)
    verdicts: list[Verdict] = []
    seen: set[str] = set()
    for iccid in iccids:
        verdict = Verdict(iccid=iccid)
        verdicts.append(verdict)
        if iccid in seen:
            verdict.error = LISTED_TWICE
            continue
        seen.add(iccid)
        if iccid in problems:
            verdict.error = problems[iccid]
            continue
        device = screen(verdict, devices.get(iccid))
        if device is None:
            continue
        outcome = rule(device)
        if isinstance(outcome, str):
            verdict.error = outcome
        else:
            verdict.params = outcome
    return verdicts


def fail_all(reason: str) -> Rule:
    """A rule for a request whose shared values break a rule: every device fails with it."""
    return lambda device: reason
