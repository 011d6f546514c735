"""A carrier callback as every carrier's parser returns it (see `carriers/callback_parsers.py`).

The parser of the provider's integration reads the carrier's body; everything after it (store
first, match, reconcile) reads only this record."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

# The longest identifiers ``carrier_callback`` stores (its column widths); longer is malformed.
MAX_REQUEST_ID = 64
MAX_ICCID = 40


class MalformedCallback(ValueError):
    """The body is not a callback of the provider's carrier."""


@dataclass(frozen=True)
class ParsedCallback:
    request_id: str
    ok: bool
    device_ids: dict[str, str]
    # The carrier's name for what the result answers (a response key), for deduplication.
    response_key: str | None = None
    response_ids: dict[str, str] = field(default_factory=dict)
    fault_code: str | None = None
    fault_message: str | None = None
    username: str = ""
    password: str = ""
    callback_count: int = 1
    # The op (and step, for one in two carrier requests) a success confirms; None if unknown.
    confirms: tuple[str, str | None] | None = None
    # A refusal because the device is already as asked (read it back rather than fail it).
    already_done: bool = False

    @property
    def iccid(self) -> str | None:
        return self.device_ids.get("iccid")

    @property
    def operation(self) -> tuple[str, str | None] | None:
        """The op (and step) a success confirms; None for a failure or a result we do not know."""
        return self.confirms if self.ok else None

    def dedupe_key(self) -> str:
        """Same request, same device, same outcome: the same callback (callbackCount aside)."""
        ids = ",".join(f"{k}={v}" for k, v in sorted(self.device_ids.items()))
        raw = f"{self.request_id}|{ids}|{self.ok}|{self.response_key}|{self.fault_code}"
        return hashlib.sha256(raw.encode()).hexdigest()
