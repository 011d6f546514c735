"""Global and per-account configuration of the simulator (the status graph is data here)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

STATUSES = (
    "INVENTORY",
    "TEST_READY",
    "ACTIVATION_READY",
    "ACTIVATED",
    "DEACTIVATED",
    "RETIRED",
    "PURGED",
    "REPLACED",
)
# Leaving these is one way (refused with 10000029), but for the graph's own edges (PURGED
# back to INVENTORY).
PRE_ACTIVATION = ("INVENTORY", "TEST_READY", "ACTIVATION_READY")

# No transition table is published; this is our best reading (UNCONFIRMED), kept as data.
DEFAULT_TRANSITIONS: dict[str, list[str]] = {
    "INVENTORY": ["TEST_READY", "ACTIVATION_READY", "ACTIVATED"],
    "TEST_READY": ["ACTIVATION_READY", "ACTIVATED"],
    "ACTIVATION_READY": ["ACTIVATED"],
    "ACTIVATED": ["DEACTIVATED"],
    "DEACTIVATED": ["ACTIVATED", "RETIRED"],
    "RETIRED": ["PURGED"],
    "PURGED": ["INVENTORY"],
    "REPLACED": [],
}


class FaultConfig(BaseModel):
    """Faults injected for one account. Every knob defaults to "behave"."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0, ge=0, description="Added to every API answer.")
    calls_per_second: float | None = Field(
        default=None, gt=0, description="Accepted calls per sliding second; past it 40000029."
    )
    max_concurrent: int | None = Field(
        default=None, ge=1, description="Calls in flight at once; past it 40000029 (1 = Jasper)."
    )
    rate_limit_status: int = Field(
        default=429, ge=400, le=599, description="HTTP status of a 40000029 answer (UNCONFIRMED)."
    )
    error_rate: float = Field(
        default=0, ge=0, le=1, description="Share of calls answered 502/503 by the gateway."
    )
    server_error_rate: float = Field(
        default=0, ge=0, le=1, description="Share of calls answered 500 errorCode 30000001."
    )
    timeout_rate: float = Field(default=0, ge=0, le=1, description="Share of calls that hang.")
    timeout_s: float = Field(default=30, ge=0, description="How long a hanging call hangs.")
    accepted_rate: float = Field(
        default=0, ge=0, le=1, description="Share of edits answered 202 instead of 200."
    )
    late_apply_s: float = Field(
        default=0, ge=0, description="An undated edit takes effect this many seconds later."
    )


class SimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    max_page_size: int = Field(default=50, ge=1)
    max_days_of_history: int = Field(default=365, ge=1)
    max_effective_days: int = Field(default=180, ge=0)
    # 202 for an edit dated in the future (accepted, applied when due): UNCONFIRMED.
    dated_edit_status: int = Field(default=202, ge=200, le=299)
    # An edit to the status a SIM already has: None accepts it (no change, no audit row);
    # an error code refuses it (a secondary source names 10030000).
    same_status_code: str | None = None
    transitions: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_TRANSITIONS.items()}
    )
    log_limit: int = Field(default=1_000_000, ge=100, description="Call-log entries kept.")
    random_seed: int | None = None
    default_faults: FaultConfig = Field(default_factory=FaultConfig)


class ConfigPatch(BaseModel):
    """Body of PATCH /_sim/config: any subset of these keys."""

    model_config = ConfigDict(extra="forbid")

    max_page_size: int | None = Field(default=None, ge=1)
    max_days_of_history: int | None = Field(default=None, ge=1)
    max_effective_days: int | None = Field(default=None, ge=0)
    dated_edit_status: int | None = Field(default=None, ge=200, le=299)
    same_status_code: str | None = None
    transitions: dict[str, list[str]] | None = None
    default_faults: FaultConfig | None = None

    def apply_to(self, config: SimConfig) -> None:
        for key in self.model_dump(exclude_unset=True):
            setattr(config, key, getattr(self, key))
