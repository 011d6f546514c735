"""Confirming an accepted Control Center edit: read the device back; for a dated or late change,
find its rows in the device's audit trail (as the system we replace did for usernames)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..base import CarrierDevice, CarrierExchange
from ..capabilities import ConfirmState, DeviceEditAccepted, EditConfirmation
from . import wire
from .config import JasperConfig

if TYPE_CHECKING:
    from .adapter import JasperAdapter


def _norm(value: str | None) -> str | None:
    return value or None


def mismatches(seen: CarrierDevice, fields: Mapping[str, str]) -> dict[str, str | None]:
    """The asked-for fields the device does not show (field -> what it shows)."""
    out = {}
    for key, value in fields.items():
        shown = wire.device_value(seen, key)
        if _norm(shown) != _norm(value):
            out[key] = shown
    return out


def audit_verdict(
    rows: Sequence[wire.AuditEntry],
    fields: Mapping[str, str],
    *,
    sent_at: datetime,
    config: JasperConfig,
) -> tuple[ConfirmState, str]:
    """Each asked-for field's newest matching row since `sent_at` (less the clock slack):
    all done: confirmed; one failed: refused; otherwise pending."""
    after = sent_at - timedelta(seconds=config.audit_clock_slack_s)
    waiting = []
    for key, value in fields.items():
        matching = [
            r
            for r in rows
            if r.field == key
            and _norm(r.value) == _norm(value)
            and (r.effective_at is None or r.effective_at >= after)
        ]
        if not matching:
            waiting.append(f"{key}: no audit row yet")
            continue
        newest = max(matching, key=lambda r: r.effective_at or sent_at)
        if newest.status in config.audit_failed_statuses:
            return "refused", f"the audit trail shows the {key} change {newest.status}"
        if newest.status not in config.audit_done_statuses:
            waiting.append(f"{key}: {newest.status or 'no status'}")
    if waiting:
        return "pending", "; ".join(waiting)
    return "confirmed", "the audit trail shows every change done"


async def confirm(
    adapter: JasperAdapter, accepted: DeviceEditAccepted, *, now: datetime | None = None
) -> EditConfirmation:
    now = now or datetime.now(UTC)
    exchanges: list[CarrierExchange] = []
    seen: CarrierDevice | None = None
    due = accepted.effective_at is None or accepted.effective_at <= now
    if due:
        seen, exchange = await adapter.device_details(accepted.device)
        exchanges.append(exchange)
        if not mismatches(seen, accepted.fields):
            return EditConfirmation(
                accepted.device, "confirmed", "read back", "read_back", seen, tuple(exchanges)
            )
    rows, trail = await adapter.audit_trail(accepted.device)
    exchanges.extend(trail)
    state, reason = audit_verdict(
        rows, accepted.fields, sent_at=accepted.sent_at, config=adapter.config
    )
    if state == "pending" and seen is not None:
        shown = ", ".join(f"{k}={v!r}" for k, v in mismatches(seen, accepted.fields).items())
        reason = f"{reason} (the device shows {shown})"
    return EditConfirmation(accepted.device, state, reason, "audit_trail", seen, tuple(exchanges))
