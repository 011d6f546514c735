"""`devicebulk-intake-api`: serve the intake API with uvicorn.

Every connection is bounded by the kit (``devicebulk_common.web``): a deadline and a size cap
for each request's head (uvicorn has none of its own), ``limit_concurrency`` as the connection
cap and a short keep-alive. The body cap (sized to the device limit, checked while the body
streams) and the body's deadline are the kit's ``BodyGuard``, inside the app (``app.py``).
"""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from devicebulk_common.logging import configure_logging
from devicebulk_common.web import server_config
from devicebulk_intake.app import create_app
from devicebulk_intake.settings import IntakeSettings


def build(settings: IntakeSettings) -> uvicorn.Server:
    return uvicorn.Server(
        server_config(
            create_app(settings),
            host=settings.intake_host,
            port=settings.intake_port,
            max_connections=settings.intake_max_connections,
            keep_alive_s=settings.intake_keep_alive_s,
            header_timeout_s=settings.intake_header_timeout_s,
            max_header_bytes=settings.intake_max_header_bytes,
        )
    )


def load_settings() -> IntakeSettings:
    """The settings, or exit at once with what is wrong (e.g. AUTH_MODE=jwt without issuer)."""
    try:
        return IntakeSettings()
    except ValidationError as exc:
        problems = "; ".join(
            str(e["msg"]).removeprefix("Value error, ") for e in exc.errors(include_url=False)
        )
        sys.exit(f"devicebulk-intake-api: cannot start: {problems}")


def main() -> None:
    settings = load_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format, service="intake-api")
    build(settings).run()


if __name__ == "__main__":
    main()
