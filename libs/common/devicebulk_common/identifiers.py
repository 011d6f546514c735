"""Device identifier checks: ICCID (19-20 digits) and IMEI (15 digits), both Luhn."""

from __future__ import annotations


def luhn_ok(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_complete(partial: str) -> str:
    """Append the Luhn check digit to ``partial``."""
    for check in "0123456789":
        if luhn_ok(partial + check):
            return partial + check
    raise AssertionError("unreachable")


def iccid_problem(iccid: str) -> str | None:
    """Why ``iccid`` is not a valid ICCID, or None."""
    if not iccid.isdigit() or not 19 <= len(iccid) <= 20:
        return "ICCID must be 19 or 20 digits"
    if not luhn_ok(iccid):
        return "ICCID fails its Luhn check"
    return None


def imei_problem(imei: str) -> str | None:
    """Why ``imei`` is not a valid IMEI, or None."""
    if not imei.isdigit() or len(imei) != 15:
        return "IMEI must be 15 digits"
    if not luhn_ok(imei):
        return "IMEI fails its Luhn check"
    return None
