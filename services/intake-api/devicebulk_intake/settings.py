from __future__ import annotations

from devicebulk_common.settings import CommonSettings


class IntakeSettings(CommonSettings):
    intake_host: str = "127.0.0.1"
    intake_port: int = 8080
    intake_max_devices: int = 100_000
