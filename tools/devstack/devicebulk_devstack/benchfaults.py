"""The bench's `faults` phase: carrier requests spent when things go wrong (issue 10, item 12).

One stack (one worker process, so a kill stops every attempt in flight), one carrier account of
6,400 devices, four cases run one after the other, each counted from the simulator's call log:

- lost answers: a 5,000-device activation where half of the activation requests are carried out
  and then answered 504 (the answer lost);
- a killed worker: a 1,000-device activation whose request the carrier carried out, answering
  slowly; the worker is killed (SIGKILL) before the answer, started again, and resumes;
- missing callbacks: 300 activations whose callbacks never come (the callback watchdog);
- cost centers: 100 EditUsername changes (a custom field, then the cost center).

Afterwards the simulator's action counts say whether any device was acted on twice.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from devicebulk_devstack.benchstack import (
    ACCOUNT,
    ACTIVATE,
    HEADERS,
    PROVIDER,
    TOKEN_PATH,
    activation,
    fresh_stack,
    processed,
    seed,
    wait_until,
)
from devicebulk_devstack.processes import BIN, Stack, wait_http

LOGIN_PATH = "/api/m2m/v1/session/login"
LOST_ANSWERS, KILLED, SILENT, COST_CENTERS = 5_000, 1_000, 300, 100
CALLBACK_SPREAD_S = 10
# Short enough for a bench: a killed worker's lease expires after 10 s, a missing callback is
# looked for after 15 s, the watchdog looks every 2 s.
WORKER_ENV = {
    "WORKER_LEASE_S": "10",
    "WORKER_CALLBACK_TIMEOUT_S": "15",
    "WORKER_WATCHDOG_INTERVAL_S": "2",
}

Add = Callable[..., None]


@dataclass
class Spent:
    """The carrier requests of one case (logins and token fetches apart)."""

    calls: list[dict]

    @property
    def requests(self) -> list[dict]:
        return [c for c in self.calls if c["path"] not in (TOKEN_PATH, LOGIN_PATH)]

    def __len__(self) -> int:
        return len(self.requests)

    def sequence(self) -> str:
        """Each request in order: what, how many devices, the answer (for the printout)."""
        if not self.requests:
            return "none"
        t0 = datetime.fromisoformat(self.requests[0]["timestamp"])
        return " ".join(
            f"{c['endpoint'].rsplit('/', 1)[-1]}:{c['devices'] or '-'}:{c['status']}"
            f"@{(datetime.fromisoformat(c['timestamp']) - t0).total_seconds():.1f}"
            for c in self.requests
        )

    def detail(self) -> str:
        kinds = Counter(c["endpoint"].rsplit("/", 1)[-1] for c in self.requests)
        return ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())


class FaultBench:
    def __init__(self, stack: Stack, iccids: list[str]) -> None:
        self.stack = stack
        self.iccids = iccids
        self.sim = httpx.Client(base_url=stack.config.sim_url, timeout=60)
        self.api = httpx.Client(base_url=stack.config.intake_url, timeout=120)

    def faults(self, **knobs: object) -> None:
        self.sim.put(f"/_sim/accounts/{ACCOUNT}/faults", json=knobs).raise_for_status()

    def mark(self) -> int:
        return int(self.sim.get("/_sim/calls", params={"since": 10**12}).json()["next"])

    def calls_since(self, index: int) -> list[dict]:
        return self.sim.get("/_sim/calls", params={"since": index}).json()["calls"]

    def submit(self, body: dict[str, object]) -> str:
        answer = self.api.post("/api/v1/bulk-changes", headers=HEADERS, json=body)
        answer.raise_for_status()
        return str(answer.json()["BulkChangeId"])

    def finish(self, bulk_id: str, timeout_s: float = 600) -> dict[str, int]:
        wait_until(lambda: processed(self.api, bulk_id), timeout_s=timeout_s, poll_s=0.5)
        view = self.api.get(f"/api/v1/bulk-changes/{bulk_id}", headers=HEADERS).json()
        return dict(view["Counts"])

    def activations_done(self, iccids: list[str]) -> int:
        counted = self.sim.get("/_sim/actions", params={"action": "activate"}).json()["actions"]
        return sum(1 for i in iccids if f"activate:{i}" in counted)

    # ---- the cases ----------------------------------------------------------------------

    def lost_answers(self, iccids: list[str]) -> tuple[Spent, dict[str, int], int]:
        self.faults(lost_answer_rate=0.5, lost_answer_mode="gateway_504")
        start = self.mark()
        counts = self.finish(self.submit(activation(iccids)))
        spent = Spent(self.calls_since(start))
        self.faults()
        lost = sum(1 for c in spent.requests if c["endpoint"] == ACTIVATE and c["status"] == 504)
        return spent, counts, lost

    def killed_worker(self, iccids: list[str]) -> tuple[Spent, dict[str, int], int]:
        # The carrier carries the activation out at once, answers after 8 s, and calls back
        # after 20 s: the worker dies while the request is in flight.
        self.faults(latency_ms=8_000, latency_after_action=True, callback_delay_s=20)
        start = self.mark()
        bulk_id = self.submit(activation(iccids))
        wait_until(lambda: self.activations_done(iccids) == len(iccids), timeout_s=120)
        killed_at = datetime.now(UTC)
        restart_worker(self.stack)
        self.faults(callback_delay_s=20)
        counts = self.finish(bulk_id)
        calls = self.calls_since(start)
        self.faults()

        def began(call: dict) -> datetime:
            ended = datetime.fromisoformat(call["timestamp"])
            return ended - timedelta(milliseconds=call["duration_ms"])

        before = sum(1 for c in Spent(calls).requests if began(c) < killed_at)
        return Spent([c for c in calls if began(c) >= killed_at]), counts, before

    def silent_callbacks(self, iccids: list[str]) -> tuple[Spent, dict[str, int]]:
        self.faults(callback_drop_rate=1)
        start = self.mark()
        counts = self.finish(self.submit(activation(iccids)))
        spent = Spent(self.calls_since(start))
        self.faults()
        return spent, counts

    def cost_centers(self, iccids: list[str]) -> tuple[Spent, dict[str, int]]:
        # The callbacks of each request trickle in over 10 s, as ThingSpace's do.
        self.faults(callback_spread_s=CALLBACK_SPREAD_S)
        start = self.mark()
        body = {
            "Devices": iccids,
            "ServiceProviderId": PROVIDER,
            "ChangeType": 6,
            "Username": {"NewUsername": "BENCH_USER", "CostCenter": "BENCH_CC_1"},
        }
        counts = self.finish(self.submit(body))
        spent = Spent(self.calls_since(start))
        self.faults()
        return spent, counts

    def twice(self) -> tuple[int, int]:
        """(devices acted on more than once by one action, the most actions on a device)."""
        counted = self.sim.get("/_sim/actions").json()["actions"]
        return sum(1 for n in counted.values() if n > 1), max(counted.values(), default=0)


def restart_worker(stack: Stack) -> None:
    """SIGKILL the worker process (no drain, no goodbye) and start a new one in its place."""
    [proc] = [p for p in stack.procs if p.name.startswith("bulk-worker")]
    os.killpg(proc.popen.pid, signal.SIGKILL)
    proc.popen.wait()
    stack.procs.remove(proc)
    port = stack.config.ports.worker_health
    stack._spawn(
        proc.name, [str(BIN / "devicebulk-bulk-worker")], {"WORKER_HEALTH_PORT": str(port)}
    )
    wait_http(f"http://127.0.0.1:{port}/readyz", stack)


def bench_faults(add: Add) -> None:
    """Run the four cases and report each with ``add(measure, target, result, ok)``."""
    total = LOST_ANSWERS + KILLED + SILENT
    print(
        f"faults: lost answers, a killed worker, missing callbacks, cost centers "
        f"({total:,} devices on one account, 1 worker)",
        flush=True,
    )
    with fresh_stack("faults", workers=1, extra_env=WORKER_ENV, sim_random_seed=10) as (
        stack,
        _,
    ):
        iccids = seed(stack, total)
        stack.start_services()
        bench = FaultBench(stack, iccids)
        lost_set = iccids[:LOST_ANSWERS]
        killed_set = iccids[LOST_ANSWERS : LOST_ANSWERS + KILLED]
        silent_set = iccids[LOST_ANSWERS + KILLED :]

        t = time.perf_counter()
        spent, counts, lost = bench.lost_answers(lost_set)
        print(f"  lost answers: {spent.detail()}; {counts} in {time.perf_counter() - t:.0f} s")
        print(f"    requests in order: {spent.sequence()}")
        add(
            f"faults: carrier requests for {LOST_ANSWERS:,} activations, half the activation "
            "answers lost (504 after the action)",
            f"a handful (one a device: {LOST_ANSWERS:,} + one a lost answer)",
            f"{len(spent)} ({spent.detail()}; {lost} answers lost); "
            f"{counts.get('Success', 0):,} Success",
            len(spent) <= 20 and counts.get("Success") == LOST_ANSWERS,
        )

        t = time.perf_counter()
        spent, counts, before = bench.killed_worker(killed_set)
        print(f"  killed worker: {spent.detail()}; {counts} in {time.perf_counter() - t:.0f} s")
        print(f"    requests in order: {spent.sequence()}")
        add(
            f"faults: carrier requests to recover {KILLED:,} activations in flight when the "
            "worker was killed (SIGKILL)",
            "a handful (was ~546)",
            f"{len(spent)} ({spent.detail() or 'none'}; {before} before the kill); "
            f"{counts.get('Success', 0):,} Success",
            len(spent) <= 12 and counts.get("Success") == KILLED,
        )

        t = time.perf_counter()
        spent, counts = bench.silent_callbacks(silent_set)
        print(f"  no callbacks: {spent.detail()}; {counts} in {time.perf_counter() - t:.0f} s")
        print(f"    requests in order: {spent.sequence()}")
        listed = sum(1 for c in spent.requests if c["endpoint"].endswith("/list"))
        add(
            f"faults: device-list requests for {SILENT} activations whose callbacks never come",
            "a handful (was 400)",
            f"{listed} ({spent.detail()}; pages of the account's {total:,} devices); "
            f"{counts.get('Success', 0):,} Success",
            listed <= 10 and counts.get("Success") == SILENT,
        )

        t = time.perf_counter()
        spent, counts = bench.cost_centers(lost_set[:COST_CENTERS])
        print(f"  cost centers: {spent.detail()}; {counts} in {time.perf_counter() - t:.0f} s")
        print(f"    requests in order: {spent.sequence()}")
        add(
            f"faults: carrier requests for {COST_CENTERS} cost-center changes (EditUsername: "
            "custom field, then cost center)",
            f"about 2 + 2 (was 8-17); callbacks spread over {CALLBACK_SPREAD_S} s",
            f"{len(spent)} ({spent.detail()}); {counts.get('Success', 0):,} Success",
            len(spent) <= 6 and counts.get("Success") == COST_CENTERS,
        )

        doubled, most = bench.twice()
        add(
            "faults: devices the carrier acted on twice (all four cases)",
            "0",
            f"{doubled} of {total:,} (at most {most} action of a kind a device)",
            doubled == 0,
        )
