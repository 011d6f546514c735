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
        """From plain values (JSON): sets are lists, dates ISO strings, the graph
        `{"status_transitions": {...}, "status_targets": [...]}`. Unknown names and values of
        the wrong type are refused (ValueError naming the option)."""
        known = {f.name for f in fields(cls)} - {"status_graph"}
        values = dict(values)
        transitions = values.pop("status_transitions", None)
        targets = values.pop("status_targets", None)
        unknown = set(values) - known
        if unknown:
            raise ValueError(
                f"unknown Control Center options: {sorted(unknown)} (known: "
                f"{sorted(known | {'status_transitions', 'status_targets'})})"
            )
        defaults = cls()
        out = {key: _typed(key, value, getattr(defaults, key)) for key, value in values.items()}
        if transitions is not None or targets is not None:
            out["status_graph"] = _graph(transitions, targets)
        config = replace(defaults, **out)
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
        from .wire import CUSTOM_FIELDS  # wire.py imports this module

        for name in ("username_field", "cost_center_field"):
            if getattr(self, name) not in CUSTOM_FIELDS:
                raise ValueError(
                    f"{name} must be a custom field: accountCustom1..10, operatorCustom1..5 "
                    "or customerCustom1..5"
                )
        if self.effective_date_style not in ("datetime", "date"):
            raise ValueError("effective_date_style must be 'datetime' or 'date'")
        if self.search_window_days is not None and self.search_window_days < 1:
            raise ValueError("search_window_days must be at least 1 (or null)")


def _typed(key: str, value: Any, default: Any) -> Any:
    """``value`` as the option's type (the type of its default), or ValueError."""
    wrong = ValueError(f"option {key}: {value!r} is not a {type(default).__name__}")
    if key == "search_window_days":
        if value is None:
            return None
        default = 0
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise wrong
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise wrong
        return value
    if isinstance(default, frozenset):
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"option {key}: {value!r} is not a list of strings")
        return frozenset(value)
    if isinstance(default, datetime):
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValueError(f"option {key}: {value!r} is not an ISO date-time")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise wrong  # pragma: no cover - every field's type is handled above


def _graph(transitions: Any, targets: Any) -> StatusGraph:
    if transitions is not None and not (
        isinstance(transitions, Mapping)
        and all(
            isinstance(to, list) and all(isinstance(t, str) for t in to)
            for to in transitions.values()
        )
    ):
        raise ValueError(
            "option status_transitions: a mapping of SIM status to a list of SIM statuses, "
            'e.g. {"ACTIVATED": ["DEACTIVATED"]}'
        )
    if targets is not None and not (
        isinstance(targets, list) and all(isinstance(t, str) for t in targets)
    ):
        raise ValueError("option status_targets: a list of SIM statuses")
    return StatusGraph.from_table(
        transitions if transitions is not None else DEFAULT_GRAPH.transitions, targets
    )
