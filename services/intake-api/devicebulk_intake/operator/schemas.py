"""Response models of the operator's views, in the portal's key style (PascalCase)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from devicebulk_common.wire import PortalModel, ProgressView

NEXT_CURSOR = Field(
    default=None, description="Pass as `cursor` for the next page; absent on the last page."
)


class BulkChangeSummary(PortalModel):
    """One bulk change in a list (its counts by device status are on its own page)."""

    BulkChangeId: uuid.UUID
    ServiceProviderId: int
    ChangeType: int
    ChangeTypeName: str
    Status: str = Field(description="NEW, PROCESSING, PROCESSED or ERROR.")
    ErrorReason: str | None = None
    CreatedBy: str | None = None
    CreatedAt: datetime
    ProcessedAt: datetime | None = None
    DeviceCount: int
    Completions: int = Field(
        description="How many times it finished: 0 while it first runs, 2 once a retry of its "
        "failed devices has finished too."
    )
    Progress: ProgressView


class BulkChangePage(PortalModel):
    Items: list[BulkChangeSummary] = Field(description="Newest first.")
    NextCursor: str | None = NEXT_CURSOR


class AuditEntry(PortalModel):
    """One step of the audit trail: who or what did it, and the carrier exchange if any
    (secrets removed)."""

    AuditEntryId: int
    BulkChangeId: uuid.UUID
    DeviceChangeId: int | None = Field(
        default=None, description="Absent for a step about the bulk change as a whole."
    )
    Step: str = Field(description="e.g. attempt, carrier:activate, callback, retry, cancel.")
    Actor: str = Field(description="bulk-worker, callback-receiver, operator, ...")
    Status: str | None = Field(default=None, description="The status the step led to.")
    Message: str | None = None
    HttpMethod: str | None = None
    HttpUrl: str | None = None
    HttpStatus: int | None = None
    RequestText: str | None = Field(default=None, description="The carrier request's body.")
    ResponseText: str | None = Field(default=None, description="The carrier response's body.")
    DurationMs: float | None = None
    CreatedAt: datetime


class AuditPage(PortalModel):
    Items: list[AuditEntry] = Field(description="Oldest first, in the order they were written.")
    NextCursor: str | None = NEXT_CURSOR


class RetryAccepted(PortalModel):
    BulkChangeId: uuid.UUID
    Status: str = Field(description="PROCESSING: the requeued devices are on their way.")
    RequeuedCount: int = Field(description="Failed device changes queued again.")


class CancelResult(PortalModel):
    BulkChangeId: uuid.UUID
    Status: str = Field(description="PROCESSED if nothing was left running, else unchanged.")
    CancelledCount: int = Field(description="Device changes that were Queued or Retry.")
    StillRunningCount: int = Field(
        description="Device changes already with the carrier (Processing, AwaitingCallback): "
        "they finish on their own."
    )
