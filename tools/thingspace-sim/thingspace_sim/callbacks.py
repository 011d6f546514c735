"""Callback delivery: one POST per device to the account's CarrierService listener."""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import sys
from collections.abc import Coroutine
from typing import Any

import httpx

from thingspace_sim import machine
from thingspace_sim.calllog import Recorder
from thingspace_sim.config import FaultConfig, SimConfig
from thingspace_sim.machine import Job
from thingspace_sim.state import CALLBACK_SERVICE, CallbackRegistration, SimState

log = logging.getLogger("thingspace_sim.callbacks")

try:
    import sniffio  # noqa: F401
except ImportError:
    # httpcore tries `import sniffio` each time it makes a lock (several per request). When
    # it is not installed every try walks sys.path again: ~0.6 ms of CPU per callback here
    # (a third of the total). Remember the miss: the import still fails, only at once.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


def callback_body(
    reg: CallbackRegistration, job: Job, payload: dict[str, Any] | None, threshold: int
) -> dict[str, Any]:
    """The body ThingSpace posts, key order as in its documentation."""
    body: dict[str, Any] = {
        "username": reg.username,
        "password": reg.password,
        "requestId": job.request_id,
        "deviceIds": job.envelope,
    }
    if payload is not None and job.fault is None:
        body["deviceResponse"] = {machine.RESPONSE_KEYS[job.action]: payload}
        body["status"] = "Success"
    else:
        assert job.fault is not None
        body["faultResponse"] = job.fault.body()
        body["status"] = "Failed"
    body["callbackCount"] = 1
    body["maxCallbackThreshold"] = threshold
    return body


class CallbackDispatcher:
    """Produces a request's callbacks after the delay and delivers them, bounded and retried."""

    def __init__(
        self, config: SimConfig, state: SimState, recorder: Recorder, rng: random.Random
    ) -> None:
        self.config = config
        self.state = state
        self.recorder = recorder
        self.rng = rng
        self._tls: ssl.SSLContext | None = None
        self._clients: list[httpx.AsyncClient] = []
        self._lanes: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """One single-connection client per lane: `callback_concurrency` deliveries at once.

        Lanes rather than one shared pool: httpcore's pool spends time quadratic in the
        number of waiting requests, which made 32-way delivery slower than one-at-a-time.
        """
        self._tls = ssl.create_default_context()  # built once: each client would load the CAs
        self._open_lanes()

    def _open_lanes(self) -> None:
        assert self._tls is not None, "start() first"
        self._clients = [
            httpx.AsyncClient(
                verify=self._tls,
                timeout=self.config.callback_timeout,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            )
            for _ in range(self.config.callback_concurrency)
        ]
        self._lanes = asyncio.Queue()
        for client in self._clients:
            self._lanes.put_nowait(client)

    async def _close_lanes(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in self._clients:
            await client.aclose()
        self._clients = []

    async def cancel_pending(self) -> None:
        """Drop every callback not yet delivered, and its retries (tests, between cases).

        The clients are replaced too: one cancelled mid-request may keep its only
        connection busy.
        """
        await self._close_lanes()
        self._open_lanes()

    async def stop(self) -> None:
        await self._close_lanes()

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def submit(self, jobs: list[Job], faults: FaultConfig) -> asyncio.Task[Any]:
        """Start producing the request's callbacks in the background."""
        return self._spawn(self._run(jobs, faults))

    async def _run(self, jobs: list[Job], faults: FaultConfig) -> None:
        delay = self.config.callback_delay + faults.callback_delay_s
        if delay > 0:
            await asyncio.sleep(delay)
        order = list(jobs)
        if faults.callback_out_of_order:
            self.rng.shuffle(order)
        first_attempts = []
        for job in order:
            payload = machine.apply(self.state, job)
            self._settle(job)
            account = self.state.accounts.get(job.account_name)
            reg = account.callbacks.get(CALLBACK_SERVICE) if account else None
            if reg is None:
                self.recorder.record_callback(self._entry(job, None, 0), "dropped")
                continue
            body = callback_body(reg, job, payload, self.config.callback_max_retries + 1)
            copies = 1
            if (
                faults.callback_duplicate_rate
                and self.rng.random() < faults.callback_duplicate_rate
            ):
                copies = 2
                self.recorder.count("callbacks_duplicated")
            for _ in range(copies):
                lane = await self._lanes.get()
                first_attempts.append(self._spawn(self._deliver(lane, reg.url, job, body, 1)))
        if first_attempts:
            await asyncio.gather(*first_attempts, return_exceptions=True)

    def _settle(self, job: Job) -> None:
        record = self.state.requests.get(job.request_id)
        if record is not None and job.index < len(record.statuses):
            record.statuses[job.index] = "Failed" if job.fault else "Success"

    def _entry(self, job: Job, url: str | None, attempt: int) -> dict[str, Any]:
        return {
            "requestId": job.request_id,
            "account": job.account_name,
            "action": job.action,
            "deviceIds": job.envelope,
            "status": "Failed" if job.fault else "Success",
            "url": url,
            "callbackCount": attempt,
        }

    async def _deliver(
        self, lane: httpx.AsyncClient, url: str, job: Job, body: dict[str, Any], attempt: int
    ) -> None:
        """One attempt on a lane the caller took; the lane is handed back here."""
        entry = self._entry(job, url, attempt)
        try:
            response = await lane.post(url, json={**body, "callbackCount": attempt})
            entry["http_status"] = response.status_code
            ok = response.is_success
        except httpx.HTTPError as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
            ok = False
        finally:
            self._lanes.put_nowait(lane)
        self.recorder.record_callback(entry, "sent" if ok else "failed")
        if ok:
            return
        if attempt > self.config.callback_max_retries:
            self.recorder.count("callbacks_gave_up")
            log.info("callback %s gave up after %d attempts", job.request_id, attempt)
            return
        self._spawn(self._retry(url, job, body, attempt + 1))

    async def _retry(self, url: str, job: Job, body: dict[str, Any], attempt: int) -> None:
        await asyncio.sleep(self.config.callback_retry_interval)
        lane = await self._lanes.get()
        await self._deliver(lane, url, job, body, attempt)
