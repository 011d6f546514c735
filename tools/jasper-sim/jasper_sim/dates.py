"""Control Center's date formats: ISO 8601 in requests, `2016-06-29 00:21:33.339+0000` in
answers, `2016-11-10Z` for date-only values."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_DATE_ONLY = re.compile(r"(\d{4}-\d{2}-\d{2})Z?")


def utcnow() -> datetime:
    return datetime.now(UTC)


def answer(value: datetime | None) -> str | None:
    """`2016-06-29 00:21:33.339+0000`."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def parse(text: str) -> datetime:
    """An ISO 8601 date-time (offset required or UTC assumed) or a date (`2016-11-10Z`).
    Raises ValueError."""
    text = text.strip()
    if match := _DATE_ONLY.fullmatch(text):
        return datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
