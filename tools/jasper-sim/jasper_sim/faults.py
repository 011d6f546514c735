"""Per-account faults: the calls-per-second cap, one call at a time, latency, 5xx, hangs."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from jasper_sim.calllog import CallInfo
from jasper_sim.config import FaultConfig
from jasper_sim.errors import SimError, jasper_error
from jasper_sim.state import Account

WINDOW_S = 1.0
RATE_LIMITED = "40000029"


class RateLimiter:
    """Sliding one-second window of accepted calls per account (refused calls use none)."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    def reset(self) -> None:
        self._hits.clear()

    def take(self, account: str, per_second: float, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault(account, deque())
        while hits and hits[0] <= now - WINDOW_S:
            hits.popleft()
        if len(hits) >= per_second:
            return False
        hits.append(now)
        return True


class FaultInjector:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.limiter = RateLimiter()

    def _throttled(self, faults: FaultConfig, info: CallInfo, kind: str, why: str) -> SimError:
        info.fault = kind
        return jasper_error(
            RATE_LIMITED, f"Rate limit exceeded: {why}.", status=faults.rate_limit_status, kind=kind
        )

    @asynccontextmanager
    async def gate(self, account: Account, info: CallInfo) -> AsyncIterator[None]:
        """Held for the whole of an API call; raises the refusal if one is due."""
        faults = account.faults
        if faults.max_concurrent is not None and account.in_flight >= faults.max_concurrent:
            raise self._throttled(
                faults, info, "concurrency_refused", "one call at a time per account"
            )
        account.in_flight += 1
        account.max_in_flight = max(account.max_in_flight, account.in_flight)
        try:
            if faults.calls_per_second is not None and not self.limiter.take(
                account.account_id, faults.calls_per_second
            ):
                raise self._throttled(
                    faults, info, "rate_limited", f"{faults.calls_per_second:g} calls a second"
                )
            if faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000)
            if faults.timeout_rate and self.rng.random() < faults.timeout_rate:
                info.fault = "timeouts"
                await asyncio.sleep(faults.timeout_s)
                raise SimError(504, {"errorMessage": "Gateway Timeout"}, kind="timeouts")
            if faults.error_rate and self.rng.random() < faults.error_rate:
                status = self.rng.choice((502, 503))
                raise SimError(status, {"errorMessage": "Service Unavailable"}, kind="error")
            if faults.server_error_rate and self.rng.random() < faults.server_error_rate:
                raise jasper_error("30000001", "Unknown server error.", kind="server_error")
            yield
        finally:
            account.in_flight -= 1
