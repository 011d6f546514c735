from __future__ import annotations

from devicebulk_common.settings import CommonSettings


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

    @property
    def body_limit(self) -> int:
        """The largest request body intake reads (sized to ``intake_max_devices``)."""
        if self.intake_max_body_bytes is not None:
            return self.intake_max_body_bytes
        return (
            self.intake_max_devices * self.intake_body_bytes_per_device
            + self.intake_body_overhead_bytes
        )
