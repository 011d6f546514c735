"""The bounds of every value intake accepts, defined once next to the models.

Lengths are read from the columns themselves, so a column change moves its check with it;
integer ranges are PostgreSQL's ``integer`` (int4) for the int4 columns. The wire models and
intake's validation import these; nothing intake accepts may later fail to store.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from sqlalchemy import String

from devicebulk_common.models.changes import BulkChange, DeviceChange, DeviceChangeLog
from devicebulk_common.models.inventory import (
    CarrierRatePlan,
    Device,
    RevCustomer,
)

INT4_MIN = -(2**31)
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1  # BigInteger ids (device_change.id, device_change_log.id)


def column_length(column: Any) -> int:
    """The declared length of a ``String(n)`` column (an ORM attribute)."""
    col_type = column.property.columns[0].type
    assert isinstance(col_type, String) and col_type.length, column
    return int(col_type.length)


# ---- integer ranges ------------------------------------------------------------------------------
# Ids are int4 primary keys; DataAllocationMB is the int4 device.data_allocation_mb.
ID_MIN, ID_MAX = INT4_MIN, INT4_MAX  # an unknown id is judged, one out of range refused
DATA_ALLOCATION_MB_MIN, DATA_ALLOCATION_MB_MAX = 0, INT4_MAX

# ---- string lengths (from the columns) -----------------------------------------------------------
SERVICE_PLAN_MAX = min(column_length(Device.carrier_rate_plan), column_length(CarrierRatePlan.code))
REV_CUSTOMER_ID_MAX = column_length(RevCustomer.id)
USERNAME_MAX = column_length(Device.username)  # each carrier bounds it further (its config)
COST_CENTER_MAX = column_length(Device.cost_center)
DEVICE_KEY_MAX = column_length(DeviceChange.iccid)
USER_EMAIL_MAX = column_length(BulkChange.created_by)
# Who did a step: a bearer token's subject, stored as created_by and as the audit's actor.
ACTOR_MAX = min(column_length(BulkChange.created_by), column_length(DeviceChangeLog.actor))
IDEMPOTENCY_KEY_MAX = column_length(BulkChange.idempotency_key)

# ---- formats -------------------------------------------------------------------------------------
ZIP_CODE_PATTERN = r"^[0-9]{5}(-[0-9]{4})?$"
ZIP4_PATTERN = r"^[0-9]{4}$"

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Refuse what no column or carrier can take: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if _LONE_SURROGATE.search(value):
        raise ValueError("must not contain lone surrogates (malformed Unicode)")
    return value


Clean = AfterValidator(clean_text)


# Bounded, clean string types for the wire models (and intake's query parameters).
CleanText = Annotated[str, Clean]
Text10 = Annotated[str, Field(max_length=10), Clean]
Text50 = Annotated[str, Field(max_length=50), Clean]
Text100 = Annotated[str, Field(max_length=100), Clean]
Text200 = Annotated[str, Field(max_length=200), Clean]
ServicePlan = Annotated[str, Field(min_length=1, max_length=SERVICE_PLAN_MAX), Clean]
ZipCode = Annotated[str, Field(max_length=10, pattern=ZIP_CODE_PATTERN), Clean]
Zip4 = Annotated[str, Field(max_length=4, pattern=ZIP4_PATTERN), Clean]
# Username and cost center: a longer one is judged per device (USERNAME_MAX, COST_CENTER_MAX)
# by intake's validation, as the portal does; the wire only refuses what no rule should read.
Username = Annotated[str, Field(max_length=1000), Clean]
CostCenter = Annotated[str, Field(max_length=1000), Clean]
DeviceKey = Annotated[str, Field(max_length=DEVICE_KEY_MAX), Clean]

Id = Annotated[int, Field(ge=ID_MIN, le=ID_MAX)]
Int4 = Annotated[int, Field(ge=INT4_MIN, le=INT4_MAX)]
DataAllocation = Annotated[int, Field(ge=DATA_ALLOCATION_MB_MIN, le=DATA_ALLOCATION_MB_MAX)]
