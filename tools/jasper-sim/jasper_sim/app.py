"""`create_app(config)`: the simulator as an ASGI app (run it with uvicorn, one process)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI

from jasper_sim import admin, devices, seed
from jasper_sim.calllog import CallLogMiddleware
from jasper_sim.config import SimConfig
from jasper_sim.context import Sim
from jasper_sim.errors import SimError, jasper_error, sim_error_handler

log = logging.getLogger("jasper_sim")
API_PREFIX = "/rws/api/v1"

versions = APIRouter()


@versions.api_route("/rws/api/{version}/{rest:path}", methods=["GET", "PUT", "POST", "DELETE"])
async def other_version(version: str, rest: str) -> None:
    raise jasper_error("10000024", f"Invalid API version: {version}.")


def create_app(config: SimConfig | None = None, seed_data: seed.SeedFile | None = None) -> FastAPI:
    sim = Sim(config or SimConfig())
    if seed_data is not None:
        seed.load(sim.state, sim.config, seed_data)
    app = FastAPI(title="Control Center (Jasper) simulator")
    app.state.sim = sim
    app.add_exception_handler(SimError, sim_error_handler)
    app.add_middleware(CallLogMiddleware, recorder=sim.recorder)
    app.include_router(devices.router, prefix=API_PREFIX)
    app.include_router(admin.router)
    app.include_router(versions)
    log.info("jasper-sim: %d accounts, %d devices", len(sim.state.accounts), len(sim.state.devices))
    return app
