"""A Cisco IoT Control Center (Jasper) REST API simulator over real HTTP (tests and benchmarks)."""

from jasper_sim.app import create_app
from jasper_sim.config import FaultConfig, SimConfig

__all__ = ["FaultConfig", "SimConfig", "create_app"]
