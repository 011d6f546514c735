"""The contract between the services: status vocabularies, change types, exchange and queue
names, and the message bodies with their version.

Every producer and consumer imports its names from here and nowhere else. A device message
carries ids only: the database is the source of truth, so a stale message cannot undo a newer
state.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CONTRACT_VERSION: Literal[1] = 1


class ChangeType(enum.IntEnum):
    """The portal's ``ChangeType`` numbers ; 9 is device deletion."""

    CUSTOMER_ASSIGNMENT = 1
    STATUS_UPDATE = 3
    CUSTOMER_RATE_PLAN_CHANGE = 4
    ARCHIVAL = 5
    EDIT_USERNAME = 6
    CARRIER_RATE_PLAN_CHANGE = 7
    CHANGE_ICCID_OR_IMEI = 8
    DEVICE_DELETION = 9


class BulkChangeStatus(enum.StrEnum):
    NEW = "NEW"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"
    ERROR = "ERROR"


class DeviceChangeStatus(enum.StrEnum):
    QUEUED = "Queued"
    PROCESSING = "Processing"
    AWAITING_CALLBACK = "AwaitingCallback"
    RETRY = "Retry"
    SUCCESS = "Success"
    FAILED = "Failed"
    VALIDATION_FAILED = "ValidationFailed"
    CANCELLED = "Cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_DEVICE_STATUSES


TERMINAL_DEVICE_STATUSES = frozenset(
    {
        DeviceChangeStatus.SUCCESS,
        DeviceChangeStatus.FAILED,
        DeviceChangeStatus.VALIDATION_FAILED,
        DeviceChangeStatus.CANCELLED,
    }
)


class DeviceStatus(enum.StrEnum):
    """A device's state in our inventory (the carrier's states, plus not yet at the carrier)."""

    NOT_PROVISIONED = "not_provisioned"
    PREACTIVE = "preactive"
    PENDING_ACTIVATION = "pending_activation"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"


class TargetStatus(enum.StrEnum):
    """``StatusUpdate.TargetStatus`` as the portal sends it."""

    ACTIVE = "Active"
    SUSPEND = "Suspend"
    RESTORE = "Restore"
    DEACTIVE = "Deactive"
    INVENTORY = "Inventory"


# ---- RabbitMQ topology names -------------------------------------------------------------------

EXCHANGE_DEVICE_CHANGES = "devicebulk.device-changes"  # direct
QUEUE_DEVICE_CHANGES = "devicebulk.device-changes"
ROUTING_DEVICE_CHANGE = "device_change.process"

# Retries: a device message waits in a delay queue (per-message expiration, one queue per tier
# so that messages of similar delay queue together), then dead-letters back to the device queue.
EXCHANGE_RETRY = "devicebulk.retry"  # direct, routing key = tier name
RETRY_TIERS = ("retry.1", "retry.2", "retry.3", "retry.4")


def retry_queue(tier: str) -> str:
    return f"devicebulk.device-changes.{tier}"


# What can never be handled ends here, for a person to look at.
EXCHANGE_DEAD_LETTER = "devicebulk.dead-letter"  # direct
QUEUE_DEAD_DEVICE_CHANGES = "devicebulk.device-changes.dead"
ROUTING_DEAD_DEVICE_CHANGE = "device_change.dead"
QUEUE_DEAD_NOTIFIER = "devicebulk.notifier.dead"
ROUTING_DEAD_NOTIFICATION = "notification.dead"
# A message redelivered this many times (a handler that crashes on it) is dead-lettered.
DELIVERY_LIMIT = 10

EXCHANGE_EVENTS = "devicebulk.events"  # topic
ROUTING_BULK_CHANGE_COMPLETED = "bulk_change.completed"
QUEUE_NOTIFIER = "devicebulk.notifier.bulk-change-completed"


# ---- Message bodies -----------------------------------------------------------------------------


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    v: Literal[1] = CONTRACT_VERSION
    correlation_id: str | None = None


class DeviceChangeMessage(_Message):
    """One device of one bulk change is ready to run (routing key ``device_change.process``)."""

    device_change_id: int
    bulk_change_id: uuid.UUID


class BulkChangeCompleted(_Message):
    """A bulk change reached ``PROCESSED`` (emitted once, by that transition)."""

    bulk_change_id: uuid.UUID
    status: BulkChangeStatus
    completed_at: datetime
    # Which completion this is: 2 once the failed devices of a processed bulk change were retried
    # and it completed again. Absent in older events, which were all first completions.
    completion_seq: int = Field(default=1, ge=1)
