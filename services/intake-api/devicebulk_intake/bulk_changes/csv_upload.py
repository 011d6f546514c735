"""A bulk change from a CSV file: the devices in a ``text/csv`` body, the rest of the request
(everything but ``Devices``/``IdentifierChanges``) as JSON in the ``X-Bulk-Change`` header.

The file has a header row; column names are matched without regard to case, and columns we do
not read are ignored. ChangeType 8 reads ``IdentifierType, OldICCID, NewICCID, OldIMEI,
NewIMEI`` (and optionally ``AddCustomerRatePlan, CustomerRatePlanId``), one device a row; every
other change type reads ``ICCID``. A row that cannot be read refuses the upload with a problem
that lists the bad rows by line number; a row that reads but breaks a rule (a bad Luhn digit,
an unknown device) is judged like the same device sent as JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from pydantic import ValidationError

from devicebulk_common import contracts as c
from devicebulk_common.wire import BulkChangeRequest, IdentifierChange
from devicebulk_intake.errors import InvalidCsv, PayloadTooLarge, Unprocessable

HEADER = "X-Bulk-Change"
MEDIA_TYPES = ("text/csv", "text/plain", "application/csv")
ERRORS_LISTED = 100
MAX_CELL = 40
# Generous room per row (an identifier-change row is under 120 bytes).
BYTES_PER_ROW = 256

IDENTIFIER_COLUMNS = ("IdentifierType", "OldICCID", "NewICCID", "OldIMEI", "NewIMEI")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}


class _Rows:
    """Collects what is wrong, line by line."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        self.count = 0

    def bad(self, line: int, msg: str) -> None:
        self.count += 1
        if len(self.errors) < ERRORS_LISTED:
            self.errors.append({"line": line, "msg": msg})

    def raise_if_any(self) -> None:
        if self.count:
            more = f" (the first {ERRORS_LISTED} are listed)" if self.count > ERRORS_LISTED else ""
            raise InvalidCsv(
                f"{self.count} row(s) of the CSV cannot be read{more}; nothing was stored.",
                errors=self.errors,
                ErrorCount=self.count,
            )


def parse_fields(raw: str | None) -> dict[str, Any]:
    """The ``X-Bulk-Change`` header: the request without its device list."""
    if not raw:
        raise Unprocessable(
            f"Send the change in the {HEADER} header as JSON, e.g. "
            '{"ServiceProviderId": 4, "ChangeType": 3, "StatusUpdate": {"TargetStatus": '
            '"Suspend"}}.'
        )
    try:
        fields = json.loads(raw)
    except ValueError as exc:
        raise Unprocessable(f"{HEADER} is not valid JSON: {exc}.") from None
    except RecursionError:
        raise Unprocessable(f"{HEADER} is nested too deeply.") from None
    if not isinstance(fields, dict):
        raise Unprocessable(f"{HEADER} must be a JSON object.")
    listed = [k for k in ("Devices", "IdentifierChanges") if fields.get(k)]
    if listed:
        raise Unprocessable(
            f"The CSV lists the devices: leave {', '.join(listed)} out of {HEADER}."
        )
    return fields


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        msg = f"not UTF-8 (byte {exc.start})"
        raise InvalidCsv(
            f"Line {line}: the CSV is {msg}; nothing was stored.",
            errors=[{"line": line, "msg": msg}],
            ErrorCount=1,
        ) from None


def _csv_error(exc: csv.Error) -> str:
    if "unexpected end of data" in str(exc):
        return "a quoted field is never closed (unterminated quote)"
    return str(exc)


def _records(
    text: str, rows: _Rows, required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {lower-case column: stripped value}) for each non-blank row, once the
    header row is found to name the ``required`` columns."""
    # strict: a quote left open or a stray character after a closing quote is an error, not
    # a field that silently swallows the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        msg = _csv_error(exc)
        raise InvalidCsv(f"Line 1: {msg}.", errors=[{"line": 1, "msg": msg}]) from None
    if not header:
        raise InvalidCsv("The CSV is empty: it needs a header row, then one row a device.")
    names = [h.strip().lower() for h in header]
    missing = [col for col in required if col.lower() not in names]
    if missing:
        raise InvalidCsv(
            f"The CSV's header row lacks the column(s) {', '.join(missing)}.",
            errors=[{"line": 1, "msg": f"missing column {col}"} for col in missing],
        )
    while True:
        start = reader.line_num + 1  # where the row begins (a quoted field may span lines)
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            rows.bad(start, _csv_error(exc))
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names):
            rows.bad(reader.line_num, f"{len(row)} fields, the header has {len(names)}")
            continue
        yield reader.line_num, {n: v.strip() for n, v in zip(names, row, strict=False)}


def _iccids(text: str, rows: _Rows) -> list[str]:
    devices: list[str] = []
    for line, record in _records(text, rows, ("ICCID",)):
        iccid = record.get("iccid", "")
        if not iccid:
            rows.bad(line, "ICCID is empty")
        elif len(iccid) > MAX_CELL:
            rows.bad(line, f"ICCID is longer than {MAX_CELL} characters")
        else:
            devices.append(iccid)
    return devices


def _flag(value: str) -> bool | None:
    lowered = value.lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else None


def _identifier_changes(text: str, rows: _Rows) -> list[dict[str, Any]]:
    pairs: list[dict[str, Any]] = []
    for line, record in _records(text, rows, IDENTIFIER_COLUMNS):
        pair: dict[str, Any] = {col: record.get(col.lower()) or None for col in IDENTIFIER_COLUMNS}
        add = _flag(record.get("addcustomerrateplan", ""))
        if add is None:
            rows.bad(line, "AddCustomerRatePlan must be true or false")
            continue
        pair["AddCustomerRatePlan"] = add
        pair["CustomerRatePlanId"] = record.get("customerrateplanid") or None
        try:
            IdentifierChange.model_validate(pair)
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                rows.bad(line, f"{where}: {err['msg']}")
            continue
        pairs.append(pair)
    return pairs


def check_size(size: int, *, max_devices: int) -> None:
    """Refuse a body larger than ``max_devices`` rows can be (before reading it, when the
    client said its length)."""
    if size > max_devices * BYTES_PER_ROW + 4096:
        raise PayloadTooLarge(f"The CSV is larger than {max_devices} devices can need.")


async def read_upload(chunks: AsyncIterator[bytes], *, max_devices: int) -> bytes:
    """The upload, read chunk by chunk; reading stops (413) once it passes what
    ``max_devices`` rows can need, whether or not the client said its length."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        check_size(len(body), max_devices=max_devices)
    return bytes(body)


def parse_upload(body: bytes, fields: dict[str, Any], *, max_devices: int) -> dict[str, Any]:
    """The JSON request equivalent to the upload (validated by the caller, like a JSON body)."""
    check_size(len(body), max_devices=max_devices)
    text = _text(body)
    rows = _Rows()
    if str(fields.get("ChangeType")) == str(c.ChangeType.CHANGE_ICCID_OR_IMEI.value):
        listed: dict[str, Any] = {"IdentifierChanges": _identifier_changes(text, rows)}
    else:
        listed = {"Devices": _iccids(text, rows)}
    rows.raise_if_any()
    return {**fields, **listed}


def request_from_upload(body: bytes, header: str | None, *, max_devices: int) -> BulkChangeRequest:
    data = parse_upload(body, parse_fields(header), max_devices=max_devices)
    try:
        return BulkChangeRequest.model_validate(data)
    except ValidationError as exc:
        raise Unprocessable(
            f"The request in {HEADER} is invalid; see errors.",
            errors=[
                {"loc": ["header", HEADER, *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors()
            ],
        ) from None
