from __future__ import annotations

from typing import Literal, Self

from pydantic import model_validator

from devicebulk_common.settings import CommonSettings
from devicebulk_intake.auth.algorithms import DEFAULT_ALGORITHMS, parse_algorithms


class IntakeSettings(CommonSettings):
    intake_host: str = "127.0.0.1"
    intake_port: int = 8080
    intake_max_devices: int = 100_000
    # A JSON body's bound: room for this many bytes a device (an identifier-change pair is
    # under 200 bytes of JSON), plus the rest of the request; INTAKE_MAX_BODY_BYTES overrides it.
    # It is checked while the body streams (chunked too).
    intake_body_bytes_per_device: int = 400
    intake_body_overhead_bytes: int = 64 * 1024
    intake_max_body_bytes: int | None = None

    # Per tenant: bulk changes submitted a minute, and devices of unfinished bulk changes
    # (a submit past either is a 429 problem with Retry-After).
    intake_tenant_submits_per_minute: int = 30
    intake_tenant_max_devices_in_flight: int = 300_000

    # Connection bounds (devicebulk_common.web): the whole body within 60 s of the request's
    # start, the head within 10 s and 16 KiB, at most this many connections at once (503 past
    # it), idle ones closed after 5 s.
    intake_body_timeout_s: float = 60.0
    intake_header_timeout_s: float = 10.0
    intake_max_header_bytes: int = 16 * 1024
    intake_max_connections: int = 1000
    intake_keep_alive_s: int = 5

    # Who may call (devicebulk_intake.auth). ``jwt``, the default: OAuth 2.0 bearer tokens
    # (JWTs) verified against the issuer's JWKS; issuer, audience and JWKS URL are required.
    # ``dev``: the caller names its tenant in X-Tenant-Id and itself in X-User-Email, for local
    # work and tests only (anyone can name any tenant).
    auth_mode: Literal["jwt", "dev"] = "jwt"
    auth_issuer: str | None = None
    auth_audience: str | None = None
    auth_jwks_url: str | None = None
    # Comma-separated; asymmetric only (RS*, PS*, ES*, EdDSA): never none, never HS*.
    auth_algorithms: str = ",".join(DEFAULT_ALGORITHMS)
    auth_leeway_s: float = 30.0
    # The claim that names the caller's tenant (an int4 tenant id, as a number or a string).
    auth_tenant_claim: str = "tenant_id"
    # The JWKS is kept this long, and refetched at most once in ``auth_jwks_refetch_s`` when
    # a token names a key it does not hold (a rotation at the issuer).
    auth_jwks_max_age_s: float = 3600.0
    auth_jwks_refetch_s: float = 60.0
    auth_jwks_timeout_s: float = 5.0

    @model_validator(mode="after")
    def _auth_is_configured(self) -> Self:
        parse_algorithms(self.auth_algorithms)  # refuses none, HS* and unknown names
        if self.auth_mode == "jwt":
            missing = [
                name.upper()
                for name in ("auth_issuer", "auth_audience", "auth_jwks_url")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(
                    f"AUTH_MODE=jwt (the default) needs {', '.join(missing)}: the token issuer, "
                    "the audience its tokens name for this API, and the URL of its JWKS. Set "
                    "them, or AUTH_MODE=dev for local work (callers then name their tenant in "
                    "X-Tenant-Id, unverified)."
                )
        return self

    @property
    def algorithms(self) -> tuple[str, ...]:
        return parse_algorithms(self.auth_algorithms)

    @property
    def body_limit(self) -> int:
        """The largest request body intake reads (sized to ``intake_max_devices``)."""
        if self.intake_max_body_bytes is not None:
            return self.intake_max_body_bytes
        return (
            self.intake_max_devices * self.intake_body_bytes_per_device
            + self.intake_body_overhead_bytes
        )
