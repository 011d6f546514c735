from __future__ import annotations

from devicebulk_common.settings import CommonSettings


class IntakeSettings(CommonSettings):
    intake_host: str = "127.0.0.1"
    intake_port: int = 8080
    intake_max_devices: int = 100_000
    # Bounds (devicebulk_common.web). The body cap is checked while the body streams (chunked
    # too); unset, it is sized to intake_max_devices (256 bytes a device, the CSV upload's
    # allowance, and 64 KiB for the rest). The whole body within 60 s of the request's start
    # (25 MB at 3.4 Mbit/s), the head within 10 s and 16 KiB, at most this many connections at
    # once (503 past it), idle ones closed after 5 s.
    intake_max_body_bytes: int | None = None
    intake_body_timeout_s: float = 60.0
    intake_header_timeout_s: float = 10.0
    intake_max_header_bytes: int = 16 * 1024
    intake_max_connections: int = 1000
    intake_keep_alive_s: int = 5

    @property
    def body_limit(self) -> int:
        if self.intake_max_body_bytes is not None:
            return self.intake_max_body_bytes
        return self.intake_max_devices * 256 + 64 * 1024
