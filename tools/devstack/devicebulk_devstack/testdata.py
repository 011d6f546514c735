"""Valid, deterministic device identifiers for demos and tests."""

from __future__ import annotations

import itertools
import os

from devicebulk_common.identifiers import luhn_complete

_ids = itertools.count(1000)


def unique_id() -> int:
    """An id no other caller in this process (or another process) is likely to use."""
    return next(_ids) + (os.getpid() % 1000) * 100_000


def make_iccid(n: int, prefix: str = "891480") -> str:
    """A 19-digit ICCID that passes its Luhn check."""
    return luhn_complete(f"{prefix}{n:012d}")


def make_imei(n: int) -> str:
    """A 15-digit IMEI that passes its Luhn check."""
    return luhn_complete(f"35693803{n:06d}")
