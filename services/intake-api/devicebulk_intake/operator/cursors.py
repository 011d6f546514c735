"""Opaque page cursors: base64url of a small JSON object. Clients pass back what they got."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devicebulk_common.models import bounds
from devicebulk_intake.errors import InvalidCursor

_INVALID = "cursor must be the NextCursor of a previous page of this list."


def _encode(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidCursor(_INVALID) from None
    if not isinstance(data, dict):
        raise InvalidCursor(_INVALID)
    return data


@dataclass(frozen=True)
class CreatedCursor:
    """The last bulk change of a page, by (created_at, id)."""

    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        return _encode({"c": self.created_at.isoformat(), "i": str(self.id)})

    @classmethod
    def decode(cls, cursor: str) -> CreatedCursor:
        data = _decode(cursor)
        try:
            created_at = datetime.fromisoformat(data["c"])
            ident = uuid.UUID(data["i"])
        except (KeyError, TypeError, ValueError):
            raise InvalidCursor(_INVALID) from None
        if created_at.tzinfo is None:
            raise InvalidCursor(_INVALID)
        return cls(created_at, ident)


def encode_after(last_id: int) -> str:
    """A cursor after an audit entry."""
    return _encode({"a": last_id})


def decode_after(cursor: str) -> int:
    value = _decode(cursor).get("a")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= bounds.INT8_MAX:
        raise InvalidCursor(_INVALID)
    return value


_DIGITS = re.compile(r"[0-9]{1,19}")


def decode_device_cursor(cursor: str) -> int:
    """A device page's cursor: the last ``DeviceChangeId`` (ASCII digits, a BigInteger)."""
    if not _DIGITS.fullmatch(cursor) or int(cursor) > bounds.INT8_MAX:
        raise InvalidCursor("cursor must be the NextCursor of a previous page.")
    return int(cursor)
