"""A ThingSpace Connectivity Management API simulator over real HTTP (tests and benchmarks)."""

from thingspace_sim.app import create_app
from thingspace_sim.config import FaultConfig, SimConfig

__all__ = ["FaultConfig", "SimConfig", "create_app"]
