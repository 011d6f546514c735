"""The bench's `jasper` phase: how much of a Control Center account's calls-per-second cap the
whole pipeline uses, and whether it ever breaks the account's rules.

A fresh stack with jasper-sim (POD19 seeded as `make run` seeds it), the account capped at 5
calls a second and one call in flight at a time (past either: `40000029`), 2 worker processes,
and 1,000 status changes (`ACTIVATION_READY` -> `ACTIVATED`, as `make demo CARRIER=jasper`
asks). Each device takes an edit (PUT) and a read-back (GET). The figures come from the
simulator's call log: calls, elapsed from the first call to the last, the share of the cap used
((calls - 1) / (cap x elapsed)), `40000029` answers, overlapping calls, devices edited twice,
the device changes' outcome, devices a second, and the pauses between calls (a stall shows).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx

from devicebulk_devstack.benchstack import HEADERS, admin, fresh_stack, processed, wait_until
from devicebulk_devstack.cli import DEMO_PROVIDER, DEMO_TENANT, jasper_activation
from devicebulk_devstack.processes import Stack

Add = Callable[..., None]

ACCOUNT = "100019"  # POD19's account at jasper-sim (`seed-demo --jasper-sim-url`)
DEVICES, WORKERS, CAP = 1_000, 2, 5
THROTTLED = "40000029"
NOTE = (
    "The `jasper:` rows run the whole pipeline against jasper-sim with POD19's account capped "
    f"at {CAP} calls a second and one call at a time ({THROTTLED} past either), {WORKERS} worker "
    f"processes, {DEVICES:,} status changes ACTIVATION_READY -> ACTIVATED (an edit and a "
    "read-back each); figures from the simulator's call log, the share of the cap being "
    "(calls - 1) / (cap x seconds from the first call to the last). Re-run them alone with "
    "`devicebulk-devstack bench --only jasper --merge` (about 8 minutes, on the machine above)."
)


def seed_jasper(stack: Stack, devices: int) -> list[str]:
    """The demo tenant and POD19 with ``devices`` SIMs, here and at jasper-sim, as `make run`
    seeds them (the demo ThingSpace provider gets as many; they are not used)."""
    iccids = Path(stack.config.var_dir) / "jasper-iccids.txt"
    admin(
        stack,
        "seed-demo",
        "--tenant",
        str(DEMO_TENANT),
        "--provider",
        str(DEMO_PROVIDER),
        "--devices",
        str(devices),
        "--sim-url",
        stack.config.sim_url,
        "--jasper-sim-url",
        stack.config.jasper_sim_url,
        "--write-jasper-iccids",
        str(iccids),
    )
    return iccids.read_text().split()


def _at(call: dict, field: str) -> datetime:
    return datetime.fromisoformat(call[field])


def overlapping(calls: list[dict]) -> int:
    """Calls received before the previous one was answered."""
    ordered = sorted(calls, key=lambda c: c["received_at"])
    return sum(
        1
        for before, after in itertools.pairwise(ordered)
        if before["timestamp"] and _at(after, "received_at") < _at(before, "timestamp")
    )


def bench_jasper(add: Add, devices: int = DEVICES) -> None:
    print(
        f"jasper: {devices:,} Control Center status changes, {WORKERS} workers, the account "
        f"capped at {CAP}/s and one call at a time",
        flush=True,
    )
    with fresh_stack("jasper", workers=WORKERS) as (stack, _):
        stack.start_jasper_sim()
        iccids = seed_jasper(stack, devices)
        sim = httpx.Client(base_url=stack.config.jasper_sim_url, timeout=60)
        faults = {"calls_per_second": CAP, "max_concurrent": 1}
        sim.put(f"/_sim/accounts/{ACCOUNT}/faults", json=faults).raise_for_status()
        sim.post("/_sim/reset").raise_for_status()  # the seed's own calls are not counted
        stack.start_services()
        with httpx.Client(base_url=stack.config.intake_url, timeout=120) as api:
            started = datetime.now().astimezone()
            answer = api.post(
                "/api/v1/bulk-changes", headers=HEADERS, json=jasper_activation(iccids)
            )
            answer.raise_for_status()
            bulk_id = answer.json()["BulkChangeId"]
            wait_until(lambda: processed(api, bulk_id), timeout_s=1_800, poll_s=1.0)
            ended = datetime.now().astimezone()
            view = api.get(f"/api/v1/bulk-changes/{bulk_id}", headers=HEADERS).json()
        calls = [c for c in sim.get("/_sim/calls").json()["calls"] if c["account"] == ACCOUNT]
        stats = sim.get("/_sim/stats").json()
        edits = sim.get("/_sim/edits").json()
    report(add, devices, calls, stats, edits, view["Counts"], (ended - started).total_seconds())


def report(
    add: Add,
    devices: int,
    calls: list[dict],
    stats: dict,
    edits: dict,
    counts: dict,
    end_to_end_s: float,
) -> None:
    throttled = [c for c in calls if c["errorCode"] == THROTTLED]
    taken = sorted(_at(c, "received_at") for c in calls if c["errorCode"] != THROTTLED)
    elapsed = (taken[-1] - taken[0]).total_seconds() if len(taken) > 1 else 0.0
    share = (len(taken) - 1) / (CAP * elapsed) if elapsed else 0.0
    gaps = sorted((b - a).total_seconds() for a, b in itertools.pairwise(taken))
    kinds = {
        "edit": sum(1 for c in calls if c["method"] == "PUT"),
        "read": sum(1 for c in calls if c["method"] == "GET"),
    }
    ordered = sorted(
        (c for c in calls if c["errorCode"] != THROTTLED), key=lambda c: c["received_at"]
    )
    for before, after in itertools.pairwise(ordered):
        pause = (_at(after, "received_at") - _at(before, "received_at")).total_seconds()
        if pause > 0.5:
            print(
                f"  pause of {pause:.2f} s at "
                f"{(_at(before, 'received_at') - taken[0]).total_seconds():.1f} s: "
                f"{before['method']} {before['iccid']} then {after['method']} {after['iccid']}",
                flush=True,
            )
    success = counts.get("Success", 0)
    twice = sum(1 for n in edits["edits"].values() if n > 1)
    print(
        f"  {len(calls)} calls ({kinds['edit']} edits, {kinds['read']} reads) in {elapsed:.1f} s; "
        f"gaps between calls: min {gaps[0]:.3f} s, median {gaps[len(gaps) // 2]:.3f} s, "
        f"max {gaps[-1]:.3f} s; {sum(1 for g in gaps if g > 1)} pauses over 1 s; "
        f"end to end {end_to_end_s:.1f} s; {counts}",
        flush=True,
    )
    add(
        f"jasper: share of the account's cap ({CAP} calls/s) used by {WORKERS} workers",
        ">= 95 %",
        f"{share:.1%} ({len(taken):,} calls: {kinds['edit']:,} edits, {kinds['read']:,} reads, "
        f"in {elapsed:.1f} s)",
        share >= 0.95,
    )
    add(
        f"jasper: {THROTTLED} answers (over the cap or a second call in flight)",
        "0",
        str(len(throttled)),
        not throttled,
    )
    add(
        "jasper: overlapping calls (received before the previous was answered)",
        "0",
        f"{overlapping(calls)} (most in flight at once: {stats['max_in_flight'].get(ACCOUNT)})",
        overlapping(calls) == 0,
    )
    add(
        "jasper: devices edited twice",
        "0",
        f"{twice} of {devices:,} (at most {edits['max']} edits a device)",
        twice == 0,
    )
    add(
        f"jasper: {devices:,} status changes ending Success",
        f"{devices:,}",
        f"{success:,} ({counts})" if success != devices else f"{success:,}",
        success == devices,
    )
    add(
        "jasper: devices a second (first call to last; end to end)",
        f"{CAP / 2:.2f} at most (2 calls a device)",
        f"{devices / elapsed:.2f}; {devices / end_to_end_s:.2f} ({end_to_end_s:.0f} s); longest "
        f"pause between calls {gaps[-1]:.2f} s",
    )
