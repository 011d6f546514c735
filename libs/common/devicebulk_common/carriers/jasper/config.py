"""Every choice the Control Center adapter makes that the carrier's documentation does not
settle (UNCONFIRMED), with its default, in one place. docs/jasper.md lists them.

Build one `JasperConfig` per provider (`JasperConfig.from_mapping(...)` takes plain JSON values,
e.g. from settings or the provider's stored options); the adapter reads nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Literal

from .status_graph import DEFAULT_GRAPH, StatusGraph

EffectiveDateStyle = Literal["datetime", "date"]


@dataclass(frozen=True)
class JasperConfig:
    # The custom fields that hold EditUsername's username and cost center (the operator's
    # account decides which of accountCustom1-10 are free).
    username_field: str = "accountCustom1"
    cost_center_field: str = "accountCustom2"
    # The longest value those custom fields take (not published: 50, ThingSpace's custom field;
    # intake also bounds it by our columns, `models.bounds`).
    custom_field_max_length: int = 50
    # The account's calls-per-second cap when the provider has no rate limit of its own
    # (5/s as quoted; operators change it) and its calls in flight at once (1 documented).
    calls_per_second: float = 5.0
    concurrency: int = 1
    # The share of the cap we aim at. The carrier's window is one second (sliding or fixed: not
    # published), so a call that arrives late squeezes the gap to the next: at 98 % (the
    # per-minute ThingSpace margin) our runs provoked a few 40000029, at 97 % hardly any.
    rate_headroom: float = 0.97
    # 40000029 has no Retry-After: retries inside one adapter call, and their backoff
    # (doubling from base to max, with jitter). Past them ThrottledError goes to the caller.
    throttle_retries: int = 3
    throttle_backoff_s: float = 1.0
    throttle_backoff_max_s: float = 8.0
    # 30000001/30000002 say nothing of whether an edit was carried out: treat the outcome as
    # unknown (read back before sending again).
    server_error_outcome_unknown: bool = True
    # effectiveDate as an ISO date-time (OAS) or a date (`2026-12-24Z`, one secondary source).
    effective_date_style: EffectiveDateStyle = "datetime"
    # What the audit trail's `status` says of a row that took effect / failed. Values are not
    # published; a row with another status counts as still pending.
    audit_done_statuses: frozenset[str] = frozenset(
        {"Executed", "Success", "Successful", "Completed", "Complete", "Done", "Processed"}
    )
    audit_failed_statuses: frozenset[str] = frozenset(
        {"Failed", "Failure", "Error", "Rejected", "Cancelled", "Canceled"}
    )
    audit_days_of_history: int = 30
    # An audit row counts for an edit if it is dated no earlier than this before we sent it
    # (the carrier's clock and ours differ).
    audit_clock_slack_s: float = 300.0
    # A status edit refused with one of these codes means the SIM already has that status
    # (a secondary source names 10030000): confirmed by a read-back, not failed.
    already_in_status_codes: frozenset[str] = frozenset({"10030000"})
    page_size: int = 50
    # Search Devices needs modifiedSince: inventory sync searches from here. Windows are
    # bounded (at most a year per request, UNCONFIRMED): None sends one open window.
    inventory_since: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    search_window_days: int | None = None
    # After 10000001 the provider is stopped: no call is sent for its credentials for this
    # long (every process sharing the cache), so a revoked key never causes a storm of calls.
    refusal_hold_s: float = 900.0
    status_graph: StatusGraph = field(default=DEFAULT_GRAPH)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> JasperConfig:
        """From plain values (JSON): sets become frozensets, dates are ISO strings, the graph
        is `{"status_transitions": {...}, "status_targets": [...]}`."""
        known = {f.name for f in fields(cls)}
        values = dict(values)
        transitions = values.pop("status_transitions", None)
        targets = values.pop("status_targets", None)
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown Control Center settings: {sorted(unknown)}")
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key.endswith(("_statuses", "_codes")):
                value = frozenset(value)
            elif key == "inventory_since" and isinstance(value, str):
                value = datetime.fromisoformat(value)
            out[key] = value
        if transitions is not None or targets is not None:
            out["status_graph"] = StatusGraph.from_table(
                transitions if transitions is not None else DEFAULT_GRAPH.transitions, targets
            )
        config = replace(cls(), **out)
        config.check()
        return config

    def check(self) -> None:
        if not 1 <= self.page_size <= 50:
            raise ValueError("page_size must be 1..50")
        if not 1 <= self.audit_days_of_history <= 365:
            raise ValueError("audit_days_of_history must be 1..365")
        if not 0 < self.rate_headroom <= 1:
            raise ValueError("rate_headroom must be in (0, 1]")
        if self.calls_per_second <= 0 or self.concurrency < 1 or self.throttle_retries < 0:
            raise ValueError("calls_per_second > 0, concurrency >= 1, throttle_retries >= 0")
        if self.custom_field_max_length < 1:
            raise ValueError("custom_field_max_length must be at least 1")
        if self.username_field == self.cost_center_field:
            raise ValueError("the username and cost center fields must differ")
