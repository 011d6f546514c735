"""The simulator's object graph, held on `app.state.sim`."""

from __future__ import annotations

import random

from fastapi import Request

from jasper_sim.calllog import CallInfo, Recorder
from jasper_sim.config import SimConfig
from jasper_sim.faults import FaultInjector
from jasper_sim.state import SimState


class Sim:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.random_seed)
        self.state = SimState()
        self.recorder = Recorder(config.log_limit)
        self.faults = FaultInjector(self.rng)

    def reset_log(self) -> None:
        self.recorder.reset()
        self.faults.limiter.reset()
        for account in self.state.accounts.values():
            account.max_in_flight = account.in_flight


def get_sim(request: Request) -> Sim:
    return request.app.state.sim


def call_info(request: Request) -> CallInfo:
    """The call-log entry being filled for this request (a throwaway one under /_sim)."""
    info = request.scope.get("sim.call")
    if info is None:
        info = request.scope["sim.call"] = CallInfo()
    return info
