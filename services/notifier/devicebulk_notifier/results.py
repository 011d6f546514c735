"""How the per-device CSV travels with the email: attached as it is, attached gzip-compressed
above ``compress_above_bytes``, or, when even that is above ``link_above_bytes``, not attached
at all and replaced by a link to the bulk change's results on the intake API."""

from __future__ import annotations

import gzip
import uuid
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Attachment:
    """The thresholds (bytes) and where the results are when they are not attached."""

    compress_above_bytes: int = 1_000_000
    link_above_bytes: int = 10_000_000
    results_base_url: str = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Results:
    kind: Literal["csv", "gzip", "link"]
    filename: str
    data: bytes
    link: str
    csv_bytes: int


def results_link(base_url: str, bulk_change_id: uuid.UUID) -> str:
    return f"{base_url.rstrip('/')}/api/v1/bulk-changes/{bulk_change_id}/devices"


def package_results(bulk_change_id: uuid.UUID, csv_data: bytes, options: Attachment) -> Results:
    """CPU work (gzip of up to ~10 MB): run it in a thread."""
    name = f"bulk-change-{bulk_change_id}.csv"
    link = results_link(options.results_base_url, bulk_change_id)
    if len(csv_data) <= options.compress_above_bytes:
        return Results("csv", name, csv_data, link, len(csv_data))
    # mtime=0: the same results compress to the same bytes (a resend is the same email).
    compressed = gzip.compress(csv_data, compresslevel=6, mtime=0)
    if len(compressed) <= options.link_above_bytes:
        return Results("gzip", f"{name}.gz", compressed, link, len(csv_data))
    return Results("link", name, b"", link, len(csv_data))
