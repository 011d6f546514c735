"""Reading and checking the rows of a device CSV (no database here)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from devicebulk_admin.errors import AdminError
from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.identifiers import iccid_problem, imei_problem

COLUMNS = ("iccid", "imei", "msisdn", "status", "carrier_rate_plan", "username", "cost_center")
MAX_LENGTH = {"carrier_rate_plan": 100, "username": 100, "cost_center": 36}
CHUNK = 5_000
STATUSES = tuple(status.value for status in DeviceStatus)


@dataclass(frozen=True, slots=True)
class DeviceRow:
    line: int
    iccid: str
    imei: str | None = None
    msisdn: str | None = None
    status: str | None = None
    carrier_rate_plan: str | None = None
    username: str | None = None
    cost_center: str | None = None

    def record(self) -> tuple[int | str | None, ...]:
        return (self.line, *(getattr(self, name) for name in COLUMNS))


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    iccid: str | None
    reason: str

    def describe(self) -> str:
        which = f" ({self.iccid})" if self.iccid else ""
        return f"line {self.line}{which}: {self.reason}"


@dataclass
class ParsedFile:
    """The checked rows of (part of) a file, and the rejected ones."""

    rows: list[DeviceRow] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


def _msisdn_problem(msisdn: str) -> str | None:
    digits = msisdn.removeprefix("+")
    if not digits.isdigit() or not 10 <= len(digits) <= 15:
        return "MSISDN must be 10 to 15 digits"
    return None


def check_row(line: int, values: dict[str, str | None]) -> DeviceRow | Rejected:
    """One row as a `DeviceRow`, or why it cannot be imported. Empty cells become None."""
    cells = {name: (values.get(name) or "").strip() or None for name in COLUMNS}
    iccid = cells["iccid"]
    if iccid is None:
        return Rejected(line, None, "the ICCID is missing")
    problems = [iccid_problem(iccid)]
    if cells["imei"] is not None:
        problems.append(imei_problem(cells["imei"]))
    if cells["msisdn"] is not None:
        problems.append(_msisdn_problem(cells["msisdn"]))
        cells["msisdn"] = cells["msisdn"].removeprefix("+")
    if cells["status"] is not None:
        cells["status"] = cells["status"].lower()
        if cells["status"] not in STATUSES:
            problems.append(f"status {values.get('status')!r} is not one of {', '.join(STATUSES)}")
    for name, limit in MAX_LENGTH.items():
        value = cells[name]
        if value is not None and len(value) > limit:
            problems.append(f"{name} is longer than {limit} characters")
    found = [problem for problem in problems if problem]
    if found:
        return Rejected(line, iccid, "; ".join(found))
    return DeviceRow(line=line, **cells)  # type: ignore[arg-type]


def parse_chunks(lines: Iterable[str], source: str, *, size: int = CHUNK) -> Iterator[ParsedFile]:
    """Check every row, ``size`` rows a chunk; a row repeating an earlier ICCID is rejected.

    The header is checked before the first chunk is produced; its unknown column names are
    reported in the first chunk's ``ignored_columns``.
    """
    reader = csv.DictReader(lines)
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
    except csv.Error as exc:
        raise AdminError(f"{source}: the header row is not valid CSV ({exc})") from exc
    if "iccid" not in header:
        raise AdminError(f"{source}: the header row must name an 'iccid' column (got {header})")
    if len(set(header)) != len(header):
        raise AdminError(f"{source}: the header row names a column twice")
    reader.fieldnames = header
    chunk = ParsedFile(ignored_columns=[name for name in header if name not in COLUMNS])
    first_line: dict[str, int] = {}
    try:
        for values in reader:
            line = reader.line_num
            extra = values.pop(None, None)  # type: ignore[call-overload]
            if extra:
                fields = len(header) + len(extra)
                reason = f"{fields} fields, the header has {len(header)}"
                chunk.rejected.append(Rejected(line, None, reason))
                continue
            outcome = check_row(line, values)
            if isinstance(outcome, DeviceRow):
                earlier = first_line.setdefault(outcome.iccid, line)
                if earlier != line:
                    outcome = Rejected(line, outcome.iccid, f"the ICCID repeats line {earlier}")
            if isinstance(outcome, Rejected):
                chunk.rejected.append(outcome)
                continue
            chunk.rows.append(outcome)
            if len(chunk.rows) >= size:
                yield chunk
                chunk = ParsedFile()
    except csv.Error as exc:
        raise AdminError(f"{source}, line {reader.line_num}: not valid CSV ({exc})") from exc
    yield chunk


def read_chunks(path: Path, *, size: int = CHUNK) -> Iterator[ParsedFile]:
    """`parse_chunks` over a UTF-8 file (a byte-order mark is allowed)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            yield from parse_chunks(handle, str(path), size=size)
    except OSError as exc:
        raise AdminError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise AdminError(f"{path} is not UTF-8 text") from exc
