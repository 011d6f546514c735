"""The bench's report: its rows, the machine it ran on, and docs/benchmarks.md (written whole by
a full run, or a phase's rows merged into it by a partial one)."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Row:
    measure: str
    target: str
    result: str
    ok: bool | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, measure: str, target: str, result: str, ok: bool | None = None) -> None:
        self.rows.append(Row(measure, target, result, ok))
        mark = {True: "met", False: "MISSED", None: ""}[ok]
        print(f"  {measure:<62} {result:<28} {target:<22} {mark}", flush=True)

    def markdown(self) -> str:
        lines = ["| measure | result | target | |", "| --- | --- | --- | --- |"]
        for r in self.rows:
            mark = {True: "met", False: "**missed**", None: ""}[r.ok]
            lines.append(f"| {r.measure} | {r.result} | {r.target} | {mark} |")
        return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{os.cpu_count()} CPU ({cpu}){mem}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def write_markdown(report: Report, path: Path, command: str) -> None:
    text = f"""# Benchmarks

Measured by `{command}` on {datetime.now(UTC):%Y-%m-%d}, on this machine:
{machine()}.
Every process (simulator, relay, intake, workers, receiver, notifier, SMTP sink) runs on it, with
PostgreSQL and RabbitMQ, against the ThingSpace simulator (the `jasper:` rows against jasper-sim);
each phase on a fresh database and vhost. The target column holds our performance targets.
Re-run with `make bench` (about twenty-five minutes). The CPU line below says where the 2 cores
went during the throughput run: the part with the most is what limits it.

{report.markdown()}

{chr(10).join(f"- {n}" for n in report.notes)}
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"\nwritten to {path}")


def merge_markdown(report: Report, path: Path, prefix: str, note: str) -> None:
    """Replace the rows whose measure starts with ``prefix`` (and the note) in the existing
    document, keeping every other row: a partial run updates its own figures only."""
    lines = path.read_text().splitlines()
    table = [i for i, line in enumerate(lines) if line.startswith("| ")]
    if not table:
        raise SystemExit(f"{path} has no table to merge into; run the full bench")
    rows = report.markdown().splitlines()[2:]
    kept = [
        line
        for i, line in enumerate(lines)
        if not (i in table and line.startswith(f"| {prefix}"))
        and not line.startswith(f"- {note[:40]}")
    ]
    end = max(i for i, line in enumerate(kept) if line.startswith("| ")) + 1
    kept[end:end] = rows
    kept.append(f"- {note} Measured on {datetime.now(UTC):%Y-%m-%d}.")
    path.write_text("\n".join(kept) + "\n")
    print(f"\nmerged into {path}")
