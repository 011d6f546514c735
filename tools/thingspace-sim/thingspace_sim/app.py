"""`create_app(config)`: the simulator as an ASGI app (run it with uvicorn, one process)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from thingspace_sim import actions, admin, auth, inventory, seed
from thingspace_sim.calllog import CallLogMiddleware
from thingspace_sim.config import SimConfig
from thingspace_sim.context import Sim
from thingspace_sim.errors import SimError, sim_error_handler

log = logging.getLogger("thingspace_sim")
API_PREFIX = "/api"


def create_app(config: SimConfig | None = None, seed_data: seed.SeedFile | None = None) -> FastAPI:
    sim = Sim(config or SimConfig())
    if seed_data is not None:
        seed.load(sim.state, sim.config, seed_data)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await sim.dispatcher.start()
        log.info(
            "thingspace-sim up: %d accounts, %d devices",
            len(sim.state.accounts),
            len(sim.state.devices),
        )
        try:
            yield
        finally:
            await sim.dispatcher.stop()

    app = FastAPI(title="ThingSpace simulator", lifespan=lifespan)
    app.state.sim = sim
    app.add_exception_handler(SimError, sim_error_handler)
    app.add_middleware(CallLogMiddleware, recorder=sim.recorder)
    app.include_router(auth.router, prefix=API_PREFIX)
    app.include_router(actions.router, prefix=API_PREFIX)
    app.include_router(inventory.router, prefix=API_PREFIX)
    app.include_router(admin.router)
    return app
