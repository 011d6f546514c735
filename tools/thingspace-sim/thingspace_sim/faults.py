"""Per-account fault injection: latency, 5xx, hangs and the requests-per-minute budget."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque

from thingspace_sim.calllog import CallInfo, ConnectionCut
from thingspace_sim.config import FaultConfig
from thingspace_sim.errors import ts_error

WINDOW_S = 60.0


class RateLimiter:
    """Sliding 60 s window of accepted calls per account."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    def reset(self) -> None:
        self._hits.clear()

    def take(self, account: str, limit: int, now: float | None = None) -> float | None:
        """Count one call; or, past the budget, the seconds until a slot frees up."""
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault(account, deque())
        while hits and hits[0] <= now - WINDOW_S:
            hits.popleft()
        if len(hits) >= limit:
            return (hits[0] + WINDOW_S - now) if hits else WINDOW_S
        hits.append(now)
        return None


class FaultInjector:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.limiter = RateLimiter()

    async def latency(self, faults: FaultConfig) -> None:
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)

    async def lose_answer(self, faults: FaultConfig, info: CallInfo) -> None:
        """Run after an asynchronous action was carried out: its answer may never arrive."""
        if faults.latency_after_action:
            await self.latency(faults)
        if not (faults.lost_answer_rate and self.rng.random() < faults.lost_answer_rate):
            return
        if faults.lost_answer_mode == "reset":
            info.fault = "reset"
            raise ConnectionCut()
        info.fault = "timeout" if faults.lost_answer_mode == "hang" else "lost_answer"
        if faults.lost_answer_mode == "hang":
            await asyncio.sleep(faults.timeout_s)
        raise ts_error(504, "REQUEST_FAILED.UnexpectedError", "Gateway timeout.", kind="timeout")

    async def gate(self, account: str, faults: FaultConfig, info: CallInfo) -> None:
        """Run before an m2m call does anything; raises the refusal if one is due."""
        if not faults.latency_after_action:
            await self.latency(faults)
        if faults.rate_limit_per_minute is not None:
            wait = self.limiter.take(account, faults.rate_limit_per_minute)
            if wait is not None:
                info.fault = "rate_limited"
                raise ts_error(
                    429,
                    "REQUEST_FAILED.RateLimitExceeded",
                    f"More than {faults.rate_limit_per_minute} requests a minute.",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                    kind="rate_limited",
                )
        if faults.timeout_rate and self.rng.random() < faults.timeout_rate:
            info.fault = "timeout"
            await asyncio.sleep(faults.timeout_s)
            raise ts_error(
                504, "REQUEST_FAILED.UnexpectedError", "Gateway timeout.", kind="timeout"
            )
        if faults.error_rate and self.rng.random() < faults.error_rate:
            info.fault = "error"
            status = self.rng.choice((500, 503))
            raise ts_error(
                status,
                "REQUEST_FAILED.UnexpectedError",
                "An unexpected error occurred. Please retry.",
                kind="error",
            )
