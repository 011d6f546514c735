"""Global and per-account configuration of the simulator."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# How an answer is lost after the action was carried out: the gateway answers 504 at once,
# the answer hangs past the client's timeout (timeout_s, then 504), or the connection is
# cut in the middle of the answer (after the request body was read).
LostAnswerMode = Literal["hang", "gateway_504", "reset"]


class FaultConfig(BaseModel):
    """Faults injected for one account. Every knob defaults to "behave"."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0, ge=0, description="Added to every answer for the account.")
    error_rate: float = Field(
        default=0, ge=0, le=1, description="Share of m2m calls answered 500/503."
    )
    timeout_rate: float = Field(default=0, ge=0, le=1, description="Share of m2m calls that hang.")
    timeout_s: float = Field(
        default=30, ge=0, description="How long a hanging call hangs (then 504)."
    )
    lost_answer_rate: float = Field(
        default=0,
        ge=0,
        le=1,
        description="Share of asynchronous actions carried out whose answer is then lost "
        "(see lost_answer_mode): the client cannot tell it was done.",
    )
    lost_answer_mode: LostAnswerMode = Field(
        default="hang",
        description="hang (timeout_s, then 504), gateway_504 (at once) or reset (the "
        "connection is cut mid-answer).",
    )
    latency_after_action: bool = Field(
        default=False,
        description="Apply latency_ms after an action was read and carried out, not before: "
        "a client that times out leaves the action done.",
    )
    forget_sessions: bool = Field(
        default=False,
        description="Answer an expired or unknown session with INPUT_INVALID.SessionToken.Invalid "
        "(the carrier forgot it) instead of REQUEST_FAILED.SessionToken.Expired.",
    )
    rate_limit_per_minute: int | None = Field(
        default=None, ge=0, description="m2m requests per sliding 60 s window; past it 429."
    )
    token_ttl_s: float | None = Field(
        default=None, gt=0, description="Access token lifetime override."
    )
    session_ttl_s: float | None = Field(
        default=None, gt=0, description="Session idle lifetime override."
    )
    callback_delay_s: float = Field(
        default=0, ge=0, description="Added to the global callback delay."
    )
    callback_duplicate_rate: float = Field(default=0, ge=0, le=1, description="Share sent twice.")
    callback_spread_s: float = Field(
        default=0,
        ge=0,
        description="Spread a request's callbacks evenly over this many seconds (ThingSpace's "
        "trickle in over minutes), instead of sending them all at once.",
    )
    callback_drop_rate: float = Field(
        default=0,
        ge=0,
        le=1,
        description="Share of callbacks never sent: the action is carried out (the device "
        "changes), its callback never comes.",
    )
    callback_out_of_order: bool = Field(default=False, description="Shuffle a request's callbacks.")
    callback_before_answer: bool = Field(
        default=False, description="Deliver a request's callbacks before answering it."
    )


class SimConfig(BaseModel):
    """Global settings; the runtime-changeable ones are listed in ConfigPatch."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    callback_delay: float = Field(default=0.2, ge=0)
    callback_retry_interval: float = Field(default=300, ge=0)
    callback_max_retries: int = Field(default=3, ge=0)
    callback_concurrency: int = Field(default=32, ge=1)
    callback_timeout: float = Field(default=10, gt=0)
    token_lifetime_s: float = Field(default=3600, gt=0)
    session_idle_s: float = Field(default=1200, gt=0)
    page_size: int = Field(default=2000, ge=1)
    max_failed_logins: int = Field(default=5, ge=1)
    max_devices_per_request: int = Field(default=10_000, ge=1)
    max_devices_per_delete: int = Field(default=100, ge=1)
    max_plan_changes_per_month: int = Field(default=4, ge=0)
    log_limit: int = Field(default=1_000_000, ge=100, description="Call/callback log entries kept.")
    random_seed: int | None = None
    default_faults: FaultConfig = Field(default_factory=FaultConfig)


class ConfigPatch(BaseModel):
    """Body of PATCH /_sim/config: any subset of these keys."""

    model_config = ConfigDict(extra="forbid")

    callback_delay: float | None = Field(default=None, ge=0)
    callback_retry_interval: float | None = Field(default=None, ge=0)
    callback_max_retries: int | None = Field(default=None, ge=0)
    callback_timeout: float | None = Field(default=None, gt=0)
    token_lifetime_s: float | None = Field(default=None, gt=0)
    session_idle_s: float | None = Field(default=None, gt=0)
    page_size: int | None = Field(default=None, ge=1)
    max_failed_logins: int | None = Field(default=None, ge=1)
    max_devices_per_request: int | None = Field(default=None, ge=1)
    max_devices_per_delete: int | None = Field(default=None, ge=1)
    max_plan_changes_per_month: int | None = Field(default=None, ge=0)
    default_faults: FaultConfig | None = None

    def apply_to(self, config: SimConfig) -> None:
        for key, value in self.model_dump(exclude_unset=True).items():
            if value is not None:
                setattr(config, key, getattr(self, key))
