"""`devicebulk-intake-api`: serve the intake API with uvicorn."""

from __future__ import annotations

import uvicorn

from devicebulk_common.logging import configure_logging
from devicebulk_intake.app import create_app
from devicebulk_intake.settings import IntakeSettings


def main() -> None:
    settings = IntakeSettings()
    configure_logging(level=settings.log_level, fmt=settings.log_format, service="intake-api")
    uvicorn.run(
        create_app(settings),
        host=settings.intake_host,
        port=settings.intake_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
