"""ChangeType 8, ChangeICCIDorIMEI: one old → new identifier pair per device.

The device is named by the pair (``OldICCID``, else ``OldIMEI``). It must be active with an
MSISDN; every old identifier the pair gives must be the device's; the new one must pass its
Luhn check and belong to no device of the inventory; ``AddCustomerRatePlan`` needs an active
customer rate plan of the tenant."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from devicebulk_common import operations as ops
from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.identifiers import iccid_problem, imei_problem
from devicebulk_common.wire import IdentifierChange
from devicebulk_intake.bulk_changes.validation.common import (
    LISTED_TWICE,
    DeviceSnapshot,
    Verdict,
    screen,
    state_words,
)
from devicebulk_intake.bulk_changes.validation.customer import catalogue_problem


def wanted_identifiers(pairs: Sequence[IdentifierChange]) -> tuple[set[str], set[str]]:
    """The old ICCIDs and IMEIs that name the devices (what to load from the inventory)."""
    iccids = {p.OldICCID for p in pairs if p.OldICCID}
    imeis = {p.OldIMEI for p in pairs if p.OldIMEI and not p.OldICCID}
    return iccids, imeis


def new_identifiers(pairs: Sequence[IdentifierChange]) -> tuple[set[str], set[str]]:
    iccids = {p.NewICCID for p in pairs if p.IdentifierType == "ICCID" and p.NewICCID}
    imeis = {p.NewIMEI for p in pairs if p.IdentifierType == "IMEI" and p.NewIMEI}
    return iccids, imeis


@dataclass
class IdentifierContext:
    """What the pairs are checked against, loaded in a few queries."""

    devices: Sequence[DeviceSnapshot]
    used_iccids: Set[str]
    used_imeis: Set[str]
    customer_plans: Mapping[Any, bool]
    by_iccid: dict[str, DeviceSnapshot] = field(init=False)
    by_imei: dict[str, list[DeviceSnapshot]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_iccid = {d.iccid: d for d in self.devices}
        self.by_imei = defaultdict(list)
        for d in self.devices:
            if d.imei:
                self.by_imei[d.imei].append(d)

    def find(self, pair: IdentifierChange) -> DeviceSnapshot | str | None:
        """The device the pair names, None if there is none, or why it is ambiguous."""
        if pair.OldICCID:
            return self.by_iccid.get(pair.OldICCID)
        assert pair.OldIMEI
        matches = self.by_imei.get(pair.OldIMEI, [])
        if len(matches) > 1:
            return f"{len(matches)} devices have IMEI {pair.OldIMEI}; name the device by OldICCID"
        return matches[0] if matches else None


def _shape_problem(pair: IdentifierChange) -> str | None:
    """What the pair lacks (or has too much of) for its IdentifierType."""
    if pair.IdentifierType == "ICCID":
        if not pair.OldICCID or not pair.NewICCID:
            return "an ICCID change needs OldICCID and NewICCID"
        if pair.NewIMEI:
            return "an ICCID change cannot also set NewIMEI (one identifier a change)"
        return iccid_problem(pair.OldICCID)
    if not pair.OldIMEI or not pair.NewIMEI:
        return "an IMEI change needs OldIMEI and NewIMEI"
    if pair.NewICCID:
        return "an IMEI change cannot also set NewICCID (one identifier a change)"
    return iccid_problem(pair.OldICCID) if pair.OldICCID else None


def _device_problem(pair: IdentifierChange, device: DeviceSnapshot) -> str | None:
    if pair.OldIMEI and pair.OldIMEI != device.imei:
        return f"OldIMEI {pair.OldIMEI} is not this device's IMEI"
    if device.status != DeviceStatus.ACTIVE:
        return (
            f"cannot change the identifier of a device that is {state_words(device.status)} "
            "(it must be active)"
        )
    if not device.msisdn:
        return "cannot change the identifier of a device without an MSISDN"
    return None


def _new_identifier_problem(
    pair: IdentifierChange, ctx: IdentifierContext, claimed: set[tuple[str, str]]
) -> str | None:
    if pair.IdentifierType == "ICCID":
        new, old, used, what = pair.NewICCID, pair.OldICCID, ctx.used_iccids, "ICCID"
        problem = iccid_problem(new or "")
    else:
        new, old, used, what = pair.NewIMEI, pair.OldIMEI, ctx.used_imeis, "IMEI"
        problem = imei_problem(new or "")
    assert new is not None
    if problem:
        return f"New{what}: {problem}"
    if new == old:
        return f"New{what} is the device's current {what}"
    if new in used:
        return f"New{what} {new} already belongs to a device of the inventory"
    if (what, new) in claimed:
        return f"New{what} {new} is given to more than one device in this request"
    claimed.add((what, new))
    return None


def identifier_verdicts(pairs: Sequence[IdentifierChange], ctx: IdentifierContext) -> list[Verdict]:
    """One verdict per pair, in order (``iccid``: the device's ICCID, or the pair's name for
    it when no device matches)."""
    verdicts: list[Verdict] = []
    seen_devices: set[int] = set()
    claimed: set[tuple[str, str]] = set()
    for pair in pairs:
        verdict = Verdict(iccid=pair.device_key)
        verdicts.append(verdict)
        if problem := _shape_problem(pair):
            verdict.error = problem
            continue
        found = ctx.find(pair)
        if isinstance(found, str):
            verdict.error = found
            continue
        if found is not None:
            verdict.iccid = found.iccid
        device = screen(verdict, found, check_imei=pair.IdentifierType == "ICCID")
        if device is None:
            continue
        if device.id in seen_devices:
            verdict.error = LISTED_TWICE
            continue
        seen_devices.add(device.id)
        problem = _device_problem(pair, device) or _new_identifier_problem(pair, ctx, claimed)
        plan_id = pair.CustomerRatePlanId if pair.AddCustomerRatePlan else None
        if problem is None and pair.AddCustomerRatePlan:
            if plan_id is None:
                problem = "AddCustomerRatePlan needs a CustomerRatePlanId"
            else:
                problem = catalogue_problem("customer rate plan", plan_id, ctx.customer_plans)
        if problem:
            verdict.error = problem
            continue
        verdict.params = {
            "op": ops.CHANGE_IDENTIFIER,
            "identifier_type": pair.IdentifierType,
            "old_iccid": device.iccid,
            "new_iccid": pair.NewICCID if pair.IdentifierType == "ICCID" else None,
            "old_imei": device.imei,
            "new_imei": pair.NewIMEI if pair.IdentifierType == "IMEI" else None,
            "customer_rate_plan_id": plan_id,
        }
    return verdicts
