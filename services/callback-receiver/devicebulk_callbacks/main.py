"""`devicebulk-callback-receiver`: serve the callback listener with uvicorn, and its probes and
metrics on a separate internal port.

The listener's connections are bounded by the kit (``devicebulk_common.web``): a deadline and a
size cap for each request's head (uvicorn has none: a client trickling a byte every 2 s kept a
connection forever), a 64 KiB body cap checked while it streams and a deadline for the whole
body, ``limit_concurrency`` as the connection cap and a short keep-alive.
"""

from __future__ import annotations

from dataclasses import dataclass

import uvicorn
import uvloop
from fastapi import FastAPI

from devicebulk_callbacks.app import create_app
from devicebulk_callbacks.settings import CallbackSettings
from devicebulk_common.health import Check, HealthServer, database_check
from devicebulk_common.logging import configure_logging
from devicebulk_common.web import server_config


@dataclass
class Servers:
    app: FastAPI
    listener: uvicorn.Server
    internal: HealthServer

    async def serve(self) -> None:
        await self.internal.start()
        try:
            await self.listener.serve()
        finally:
            await self.internal.close()


def _database_ready(app: FastAPI) -> Check:
    async def database() -> bool:
        engine = getattr(app.state, "engine", None)  # none before the app's start-up
        return engine is not None and await database_check(engine)()

    return database


def build(settings: CallbackSettings) -> Servers:
    app = create_app(settings)
    config = server_config(
        app,
        host=settings.callbacks_host,
        port=settings.callbacks_port,
        max_connections=settings.callbacks_max_connections,
        keep_alive_s=settings.callbacks_keep_alive_s,
        header_timeout_s=settings.callbacks_header_timeout_s,
        max_header_bytes=settings.callbacks_max_header_bytes,
    )
    internal = HealthServer(
        host=settings.callbacks_internal_host,
        port=settings.callbacks_internal_port,
        checks=[_database_ready(app)],
    )
    return Servers(app, uvicorn.Server(config), internal)


def main() -> None:
    settings = CallbackSettings()
    configure_logging(
        level=settings.log_level, fmt=settings.log_format, service="callback-receiver"
    )
    uvloop.run(build(settings).serve())


if __name__ == "__main__":
    main()
