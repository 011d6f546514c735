"""Edit Device Details: the checks Control Center makes, the status graph, dated edits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jasper_sim import dates
from jasper_sim.config import PRE_ACTIVATION, STATUSES, SimConfig
from jasper_sim.errors import SimError, jasper_error
from jasper_sim.state import CUSTOM_FIELDS, PLAIN_FIELDS, Account, AuditRow, Device, SimState

EDITABLE = ("status", *PLAIN_FIELDS, *CUSTOM_FIELDS)
# Accepted (and ignored by the simulator): they need a fixed-IP plan we do not model.
IGNORED = ("overageLimitOverride", "ipv4Address", "ipv6Address", "apn", "pdpId")
CUSTOM_MAX = 255
OVERAGE_VALUES = ("DEFAULT", "TEMPORARY_OVERRIDE", "PERMANENT_OVERRIDE")


@dataclass
class Edit:
    fields: dict[str, str]
    effective: datetime | None


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw else None
    except ValueError as exc:
        raise jasper_error("10000023", f"Malformed JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise jasper_error("10000023", "Malformed JSON: the body must be an object.")
    return body


def read_edit(body: dict[str, Any], account: Account, config: SimConfig) -> Edit:
    """The fields to set, checked against the account's plans and customers; 400 otherwise."""
    fields: dict[str, str] = {}
    for key, value in body.items():
        if key == "effectiveDate" or key in IGNORED:
            continue
        if key not in EDITABLE:
            raise jasper_error("10000028", f"Unknown parameter: {key}.")
        if not isinstance(value, str):
            raise jasper_error("10000028", f"{key} must be a string.")
        fields[key] = value
    overage = body.get("overageLimitOverride")
    if overage is not None and overage not in OVERAGE_VALUES:
        raise jasper_error("10000016", "Invalid overageLimitOverride.")
    if not fields and overage is None:
        raise jasper_error("10000011", "At least one field to edit is required.")
    if "status" in fields and fields["status"] not in STATUSES:
        raise jasper_error("10000005", f"Invalid status: {fields['status']}.")
    checks = (
        ("ratePlan", account.rate_plans, "10000013", "rate plan"),
        ("communicationPlan", account.communication_plans, "10000014", "communication plan"),
        ("customer", account.customers, "10000015", "customer"),
    )
    for key, known, code, what in checks:
        if key in fields and fields[key] not in known:
            raise jasper_error(code, f"Invalid {what}: {fields[key]}.")
    for key in CUSTOM_FIELDS:
        if len(fields.get(key, "")) > CUSTOM_MAX:
            raise jasper_error("10000028", f"{key} is longer than {CUSTOM_MAX} characters.")
    return Edit(fields, _effective(body.get("effectiveDate"), config))


def _effective(raw: Any, config: SimConfig) -> datetime | None:
    """A future date-time (or date), at most `max_effective_days` ahead; past dates apply now."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise jasper_error("10000012", "Invalid effectiveDate.")
    try:
        when = dates.parse(raw)
    except ValueError as exc:
        raise jasper_error("10000012", f"Invalid effectiveDate: {raw}.") from exc
    now = dates.utcnow()
    if when - now > timedelta(days=config.max_effective_days):
        raise jasper_error(
            "10000012", f"effectiveDate is more than {config.max_effective_days} days ahead."
        )
    return when if when > now else None


def check_status(device: Device, target: str, config: SimConfig) -> bool:
    """True to change, False for a no-op (same status); raises the refusal otherwise."""
    current = device.status
    if target == current:
        if config.same_status_code:
            raise jasper_error(config.same_status_code, f"The SIM is already {current}.")
        return False
    if target in config.transitions.get(current, []):
        return True
    if target in PRE_ACTIVATION and current not in PRE_ACTIVATION:
        raise jasper_error("10000029", f"A {current} SIM may not go back to {target}.")
    raise jasper_error("10000005", f"A {current} SIM may not become {target}.")


def changes(device: Device, edit: Edit, config: SimConfig) -> dict[str, str]:
    """The fields whose value would change (the status checked against the graph)."""
    out = {}
    for key, value in edit.fields.items():
        if key == "status":
            if check_status(device, value, config):
                out[key] = value
        elif device.get(key) != value:
            out[key] = value
    return out


def audit_rows(
    state: SimState, device: Device, fields: dict[str, str], when: datetime, user: str, ip: str
) -> list[AuditRow]:
    rows = [
        AuditRow(
            field=key,
            prior_value=device.get(key),
            value=value,
            effective_date=when,
            status="Pending",
            user_name=user,
            ip_address=ip,
            sequence=state.next_sequence(),
        )
        for key, value in fields.items()
    ]
    device.audit.extend(rows)
    return rows


def apply(device: Device, fields: dict[str, str], rows: list[AuditRow], when: datetime) -> None:
    for key, value in fields.items():
        if key == "status" and value == "ACTIVATED" and device.date_activated is None:
            device.date_activated = when
        device.set(key, value)
    for row in rows:
        row.status = "Executed"
    device.date_updated = max(device.date_updated, when)


def apply_due(state: SimState, config: SimConfig, now: datetime | None = None) -> int:
    """Carry out the dated edits that are due, each at its own time (so dateUpdated and the
    audit rows show when it took effect, not when someone next looked)."""
    now = now or dates.utcnow()
    due = sorted((p for p in state.pending if p.due <= now), key=lambda p: p.due)
    if not due:
        return 0
    state.pending = [p for p in state.pending if p.due > now]
    for edit in due:
        device = state.devices.get(edit.iccid)
        if device is None:
            continue
        if "status" in edit.fields and edit.fields["status"] != device.status:
            try:
                check_status(device, edit.fields["status"], config)
            except SimError:  # the SIM moved meanwhile: the dated status change fails
                for row in edit.rows:
                    row.status = "Failed"
                continue
        for row in edit.rows:
            row.prior_value = device.get(row.field)
        apply(device, edit.fields, edit.rows, edit.due)
    return len(due)
