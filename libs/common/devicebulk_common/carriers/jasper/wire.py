"""Control Center's wire format: request bodies, answers, dates, and its error codes mapped
into our hierarchy (`carriers/errors.py`).

    10000001 (401)          CredentialsRefusedError: the key is wrong, revoked or expired,
                            for every device of the provider: the provider stops
    40000029 (any status)   ThrottledError: over the account's calls-per-second cap or its
                            one call at a time; nothing was done; wait and retry
    30000001, 30000002, 5xx TransientCarrierError (the outcome of an edit is unknown)
    timeouts, connections   TransientCarrierError (from the transport, as for any carrier)
    any other code          PermanentCarrierError: final for that device
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ..base import CarrierDevice
from ..errors import (
    GATEWAY_STATUSES,
    CarrierError,
    CredentialsRefusedError,
    PermanentCarrierError,
    ThrottledError,
    TransientCarrierError,
)
from .config import JasperConfig
from .status_graph import NEUTRAL_STATUS, STATUSES

AUTH_REFUSED = "10000001"
RATE_LIMITED = "40000029"
SERVER_ERRORS = frozenset({"30000001", "30000002"})
NOT_FOUND = "20000001"
BAD_STATUS = "10000005"
PRE_ACTIVATION_REFUSED = "10000029"

CUSTOM_FIELDS: frozenset[str] = frozenset(
    {
        *(f"operatorCustom{n}" for n in range(1, 6)),
        *(f"accountCustom{n}" for n in range(1, 11)),
        *(f"customerCustom{n}" for n in range(1, 6)),
    }
)
EDITABLE: frozenset[str] = frozenset(
    {"status", "ratePlan", "communicationPlan", "customer", "deviceID", "modemID", *CUSTOM_FIELDS}
)
_ICCID = re.compile(r"\d{19,20}")
_ANSWER_DATE = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{4})")
_DATE_ONLY = re.compile(r"(\d{4}-\d{2}-\d{2})Z?")


# -- errors -------------------------------------------------------------------------------


def map_error(exc: CarrierError, config: JasperConfig) -> CarrierError:
    """Our error for what the transport raised (it read `errorCode` into `exc.code`)."""
    status, code = exc.http_status, exc.code
    common: dict[str, Any] = {"http_status": status, "exchange": exc.exchange}
    if status is None:
        return exc  # no answer: timeouts and connection errors are already classified
    if code == AUTH_REFUSED or status == 401:
        return CredentialsRefusedError(
            f"Control Center refused the API key: {exc.message}",
            code=code or "HTTP401",
            **common,
        )
    if code == RATE_LIMITED or status == 429:
        return ThrottledError(exc.message, code=code or "Throttled", retry_after=None, **common)
    if code in SERVER_ERRORS or status >= 500:
        error = TransientCarrierError(exc.message, code=code or f"HTTP{status}", **common)
        error.outcome_unknown = status in GATEWAY_STATUSES or (
            code in SERVER_ERRORS and config.server_error_outcome_unknown
        )
        return error
    if isinstance(exc, TransientCarrierError) and not code:
        return exc  # 408 and the like
    return PermanentCarrierError(exc.message, code=code or f"HTTP{status}", **common)


# -- dates --------------------------------------------------------------------------------


def request_datetime(value: datetime) -> str:
    """ISO 8601 with an explicit offset: `2016-04-18T17:31:34+00:00`."""
    if value.tzinfo is None:
        raise ValueError("a Control Center date must carry its time zone")
    return value.astimezone(UTC).isoformat(timespec="seconds")


def as_sent(value: datetime, config: JasperConfig) -> datetime:
    """`value` as the carrier reads it once sent: to the second, or the day (UTC midnight)."""
    value = value.astimezone(UTC).replace(microsecond=0)
    if config.effective_date_style == "date":
        return value.replace(hour=0, minute=0, second=0)
    return value


def effective_date(value: datetime, config: JasperConfig) -> str:
    if config.effective_date_style == "date":
        return f"{value.astimezone(UTC).date().isoformat()}Z"
    return request_datetime(value)


def parse_answer_date(text: Any) -> datetime | None:
    """`2016-06-29 00:21:33.339+0000`, `2016-11-10Z`, or ISO 8601; None when absent or odd."""
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    if match := _ANSWER_DATE.fullmatch(text):
        day, clock, offset = match.groups()
        text = f"{day}T{clock}{offset[:3]}:{offset[3:]}"
    elif match := _DATE_ONLY.fullmatch(text):
        return datetime.combine(date.fromisoformat(match.group(1)), datetime.min.time(), UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- requests -----------------------------------------------------------------------------


def check_iccid(iccid: str) -> str:
    if not _ICCID.fullmatch(iccid):
        raise ValueError(f"not an ICCID: {iccid!r}")
    return iccid


def edit_body(
    changes: Mapping[str, str], effective_at: datetime | None, config: JasperConfig
) -> dict[str, str]:
    """The Edit Device Details body; ValueError for a field or status the carrier has not."""
    if not changes:
        raise ValueError("an edit needs at least one field")
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not editable in Control Center: {sorted(unknown)}")
    status = changes.get("status")
    if status is not None and status not in STATUSES:
        raise ValueError(f"not a Control Center SIM status: {status!r}")
    body = {key: str(value) for key, value in changes.items()}
    if effective_at is not None:
        body["effectiveDate"] = effective_date(effective_at, config)
    return body


# -- answers ------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def parse_device(raw: Mapping[str, Any]) -> CarrierDevice:
    """Get Device Details or a Search Devices entry as a neutral record: `state` is the SIM
    status, `service_plan` the rate plan, `custom_fields` every custom field that has a value
    (and `communicationPlan`, `customer`)."""
    ids = {
        kind: str(raw[key])
        for kind, key in (
            ("iccid", "iccid"),
            ("imei", "imei"),
            ("imsi", "imsi"),
            ("msisdn", "msisdn"),
        )
        if _text(raw.get(key))
    }
    custom = {key: str(raw[key]) for key in CUSTOM_FIELDS if _text(raw.get(key))}
    for key in ("communicationPlan", "customer"):
        if _text(raw.get(key)):
            custom[key] = str(raw[key])
    return CarrierDevice(
        ids=ids,
        state=str(raw.get("status") or ""),
        status=NEUTRAL_STATUS.get(str(raw.get("status") or "")),
        service_plan=_text(raw.get("ratePlan")),
        msisdn=_text(raw.get("msisdn")),
        custom_fields=custom,
        last_activation=parse_answer_date(raw.get("dateActivated")),
    )


def device_value(device: CarrierDevice, field_name: str) -> str | None:
    """A field of `parse_device`'s record by its Control Center name."""
    if field_name == "status":
        return device.state or None
    if field_name == "ratePlan":
        return device.service_plan
    return device.custom_fields.get(field_name)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    field: str
    prior_value: str | None
    value: str | None
    effective_at: datetime | None
    status: str
    user_name: str | None


def parse_audit_page(body: Any) -> tuple[list[AuditEntry], bool] | None:
    """(rows, last page) of an audit trail answer; None when it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("deviceAuditTrails"), list):
        return None
    rows = [
        AuditEntry(
            field=str(row.get("field") or ""),
            prior_value=_text(row.get("priorValue")),
            value=_text(row.get("value")),
            effective_at=parse_answer_date(row.get("effectiveDate")),
            status=str(row.get("status") or ""),
            user_name=_text(row.get("userName")),
        )
        for row in body["deviceAuditTrails"]
        if isinstance(row, dict)
    ]
    return rows, _last_page(body, len(rows))


def parse_search_page(body: Any) -> tuple[list[CarrierDevice], bool] | None:
    """(devices, last page) of a Search Devices answer; None when it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("devices"), list):
        return None
    devices = [parse_device(raw) for raw in body["devices"] if isinstance(raw, dict)]
    return devices, _last_page(body, len(devices))


def _last_page(body: Mapping[str, Any], count: int) -> bool:
    last = body.get("lastPage")
    return last if isinstance(last, bool) else count == 0
