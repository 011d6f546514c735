"""Control Center's SIM statuses and the transitions we allow between them, as data.

No transition table is published (UNCONFIRMED, our best reading of the documentation): leaving
pre-activation is one way (the carrier refuses it with 10000029); `ACTIVATED` and `DEACTIVATED`
go back and forth; `RETIRED` and `PURGED` end a SIM's life, and a `PURGED` SIM may return to
`INVENTORY` (one secondary source: "return to inventory needs PURGED"); `REPLACED` is set by a
SIM swap, never by us. Which statuses an account may set is up to its operator, so both the table and the
targets the portal may ask for are configurable (`StatusGraph(transitions=..., targets=...)`).

Intake calls `StatusGraph.refusal(current, target)` to refuse a transition with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

INVENTORY = "INVENTORY"
TEST_READY = "TEST_READY"
ACTIVATION_READY = "ACTIVATION_READY"
ACTIVATED = "ACTIVATED"
DEACTIVATED = "DEACTIVATED"
RETIRED = "RETIRED"
PURGED = "PURGED"
REPLACED = "REPLACED"

STATUSES: tuple[str, ...] = (
    INVENTORY,
    TEST_READY,
    ACTIVATION_READY,
    ACTIVATED,
    DEACTIVATED,
    RETIRED,
    PURGED,
    REPLACED,
)
PRE_ACTIVATION = frozenset({INVENTORY, TEST_READY, ACTIVATION_READY})

DEFAULT_TRANSITIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        INVENTORY: frozenset({TEST_READY, ACTIVATION_READY, ACTIVATED}),
        TEST_READY: frozenset({ACTIVATION_READY, ACTIVATED}),
        ACTIVATION_READY: frozenset({ACTIVATED}),
        ACTIVATED: frozenset({DEACTIVATED}),
        DEACTIVATED: frozenset({ACTIVATED, RETIRED}),
        RETIRED: frozenset({PURGED}),
        PURGED: frozenset({INVENTORY}),
        REPLACED: frozenset(),
    }
)
# What the portal's StatusUpdate may name for a Control Center provider (PURGED and REPLACED are
# the platform's to set).
DEFAULT_TARGETS: frozenset[str] = frozenset(
    {ACTIVATED, DEACTIVATED, ACTIVATION_READY, INVENTORY, RETIRED, TEST_READY}
)


def _freeze(table: Mapping[str, Iterable[str]]) -> Mapping[str, frozenset[str]]:
    return MappingProxyType({key: frozenset(value) for key, value in table.items()})


@dataclass(frozen=True)
class StatusGraph:
    transitions: Mapping[str, frozenset[str]] = field(default_factory=lambda: DEFAULT_TRANSITIONS)
    targets: frozenset[str] = DEFAULT_TARGETS

    @classmethod
    def from_table(
        cls, transitions: Mapping[str, Iterable[str]], targets: Iterable[str] | None = None
    ) -> StatusGraph:
        """A graph from configuration (e.g. JSON: `{"ACTIVATED": ["DEACTIVATED"], ...}`)."""
        known = set(STATUSES)
        named = set(transitions) | {t for to in transitions.values() for t in to}
        unknown = named - known
        if unknown:
            raise ValueError(f"unknown SIM statuses in the graph: {sorted(unknown)}")
        chosen = frozenset(targets) if targets is not None else DEFAULT_TARGETS
        if chosen - known:
            raise ValueError(f"unknown SIM statuses as targets: {sorted(chosen - known)}")
        return cls(_freeze(transitions), chosen)

    def allowed(self, current: str) -> frozenset[str]:
        return self.transitions.get(current, frozenset())

    def refusal(self, current: str | None, target: str) -> str | None:
        """None when `current` may become `target`; else the reason to refuse it with.
        An unknown current status (not read from the carrier yet) is not held against it."""
        if target not in STATUSES:
            return f"{target!r} is not a Control Center SIM status ({', '.join(STATUSES)})"
        if target not in self.targets:
            return f"{target} is not a status this provider may set"
        if current is None or current not in STATUSES:
            return None
        if current == target:
            return f"the SIM is already {current}"
        if target in self.allowed(current):
            return None
        if target in PRE_ACTIVATION and current not in PRE_ACTIVATION:
            return f"a {current} SIM may not go back to {target} (pre-activation is one way)"
        allowed = ", ".join(sorted(self.allowed(current))) or "none"
        return f"a {current} SIM may not become {target} (allowed: {allowed})"


DEFAULT_GRAPH = StatusGraph()


def refuse_transition(
    current: str | None, target: str, graph: StatusGraph = DEFAULT_GRAPH
) -> str | None:
    """The reason a Control Center SIM may not go from `current` to `target`, or None."""
    return graph.refusal(current, target)


# Our neutral device status (`contracts.DeviceStatus` values) for each SIM status, for records
# and reports that name no carrier. Lossy (three pre-activation statuses are one `preactive`),
# so the Jasper status itself is what the graph is checked against.
NEUTRAL_STATUS: Mapping[str, str] = MappingProxyType(
    {
        INVENTORY: "preactive",
        TEST_READY: "preactive",
        ACTIVATION_READY: "preactive",
        ACTIVATED: "active",
        DEACTIVATED: "deactivated",
        RETIRED: "deactivated",
        PURGED: "deactivated",
        REPLACED: "deactivated",
    }
)


# The portal's `StatusUpdate.TargetStatus` for a Control Center provider: its own words where
# they mean a SIM status, else the SIM status's name itself (`ACTIVATED`, `RETIRED`, ...; any
# case). `Suspend` and `Restore` have no SIM status (there is no SUSPENDED) and mean nothing here.
PORTAL_TARGETS: Mapping[str, str] = MappingProxyType(
    {"Active": ACTIVATED, "Deactive": DEACTIVATED, "Inventory": INVENTORY}
)


def sim_target(target_status: str) -> str | None:
    """The SIM status the portal's `TargetStatus` asks for, or None when it names none."""
    if target_status in PORTAL_TARGETS:
        return PORTAL_TARGETS[target_status]
    upper = target_status.strip().upper()
    return upper if upper in STATUSES else None


# What our neutral status says of a SIM's Control Center status: every SIM status it may stand
# for (the neutral status is lossy), the likeliest first.
_SIM_STATUSES_OF: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "preactive": (ACTIVATION_READY, TEST_READY, INVENTORY),
        "active": (ACTIVATED,),
        "deactivated": (DEACTIVATED, RETIRED, PURGED, REPLACED),
    }
)


def refuse_from_neutral(
    neutral: str, target: str, graph: StatusGraph = DEFAULT_GRAPH
) -> str | None:
    """`refuse_transition` for a device of which we know only our neutral status: None when any
    SIM status it may stand for may become `target` (the carrier has the last word), else the
    reason given for the likeliest. A neutral status with no SIM status (not read yet) is not
    held against the device."""
    candidates = _SIM_STATUSES_OF.get(neutral)
    if not candidates:
        return graph.refusal(None, target)
    reasons = [graph.refusal(current, target) for current in candidates]
    if any(reason is None for reason in reasons):
        return None
    return reasons[0]
