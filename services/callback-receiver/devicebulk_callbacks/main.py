"""`devicebulk-callback-receiver`: serve the callback listener with uvicorn."""

from __future__ import annotations

import uvicorn

from devicebulk_callbacks.app import create_app
from devicebulk_callbacks.settings import CallbackSettings
from devicebulk_common.logging import configure_logging


def main() -> None:
    settings = CallbackSettings()
    configure_logging(
        level=settings.log_level, fmt=settings.log_format, service="callback-receiver"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.callbacks_host,
        port=settings.callbacks_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )


if __name__ == "__main__":
    main()
