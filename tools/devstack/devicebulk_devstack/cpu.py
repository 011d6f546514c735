"""CPU seconds each part of the stack spent during a measurement (Linux ``/proc``).

The stack's own processes are named by the devstack; PostgreSQL's backends and RabbitMQ's
Erlang VM are found by their command name. A process that ends during the measurement is not
counted (its time is gone with it); one that starts counts from zero.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

SERVERS = {"postgres": "postgresql", "beam.smp": "rabbitmq"}
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _servers() -> dict[int, str]:
    found: dict[int, str] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm in SERVERS:
            found[int(entry.name)] = SERVERS[comm]
    return found


def snapshot(named: dict[int, str]) -> dict[int, tuple[str, int]]:
    """CPU ticks so far of the given processes (pid -> part) and of the servers."""
    out: dict[int, tuple[str, int]] = {}
    for pid, part in {**_servers(), **named}.items():
        ticks = _ticks(pid)
        if ticks is not None:
            out[pid] = (part, ticks)
    return out


def spent(before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]]) -> Counter[str]:
    """CPU seconds per part between two snapshots, largest first."""
    seconds: Counter[str] = Counter()
    for pid, (part, ticks) in after.items():
        start = before.get(pid, (part, 0))[1]
        seconds[part] += (ticks - start) / _TICK
    return seconds


def part_of(process_name: str) -> str:
    """``bulk-worker-1`` -> ``bulk-worker``: processes of one service counted together."""
    return re.sub(r"-\d+$", "", process_name)
