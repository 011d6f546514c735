"""Durations on the command line: ``90d``, ``12h``, ``30m``, ``45s`` (or plain seconds)."""

from __future__ import annotations

import argparse
import re
from datetime import timedelta

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^\s*(\d{1,9})\s*([dhms]?)\s*$")


def parse_duration(value: str) -> timedelta:
    """``90d`` → 90 days; an argparse type (a bad value is a usage error naming the forms)."""
    match = _DURATION.match(value.lower())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a duration (a whole number with d, h, m or s: 90d, 12h, 30m)"
        )
    number, unit = match.groups()
    return timedelta(seconds=int(number) * _UNITS[unit or "s"])


def describe(duration: timedelta) -> str:
    """The largest whole unit that says it exactly: 90d, 36h, 90m, 45s."""
    seconds = int(duration.total_seconds())
    for unit, size in _UNITS.items():
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
