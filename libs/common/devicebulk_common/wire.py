"""The portal's wire format (DESIGN.md §3): PascalCase keys, ``ChangeType`` an integer.

These models are what integrators read in the OpenAPI docs, so every field says what it is.
Unknown keys are ignored, as the portal sends some that only its other carriers read.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PortalModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class ServiceAddress(PortalModel):
    AddressLine1: str = Field(max_length=200)
    AddressLine2: str | None = Field(default=None, max_length=200)
    City: str = Field(max_length=100)
    State: str = Field(max_length=50)
    Zip: str = Field(max_length=10)
    Zip4: str | None = Field(default=None, max_length=4)
    Country: str = Field(max_length=50)


class PersonName(PortalModel):
    FirstName: str = Field(max_length=100)
    LastName: str = Field(max_length=100)
    Title: str | None = None
    MiddleName: str | None = None
    Suffix: str | None = None


class PlaceOfUse(PortalModel):
    """The service address E911 rules need on activation."""

    Address: ServiceAddress
    CustomerName: PersonName


class ThingSpaceStatusParams(PortalModel):
    """ThingSpace-specific parameters of a status update."""

    ServicePlan: str | None = Field(
        default=None,
        description="Carrier service plan for activation; defaults to the device's current plan.",
    )
    ZipCode: str | None = Field(
        default=None,
        description="ZIP code the MDN is assigned from (activation); defaults to the place of "
        "use's ZIP.",
    )
    PrimaryPlaceOfUse: PlaceOfUse | None = None
    SkuNumber: str | None = None
    ReasonCode: str = Field(default="FF", description="Deactivation reason code.")
    EtfWaiver: bool = False
    DeleteAfterDeactivation: bool = False
    WithBilling: bool | None = Field(default=None, description="Suspend with billing.")


class JasperStatusParams(PortalModel):
    """Cisco Jasper parameters; accepted for the portal's sake, unused on ThingSpace."""

    ReasonCode: str | None = None


class StatusUpdatePayload(PortalModel):
    TargetStatus: str = Field(
        description="Active, Suspend, Restore, Deactive or Inventory (add to the carrier's "
        "inventory as preactive)."
    )
    ThingSpaceStatusUpdate: ThingSpaceStatusParams | None = None
    JasperStatusUpdate: JasperStatusParams | None = None


class BulkChangeRequest(PortalModel):
    OverrideValidation: bool = Field(
        default=False, description="Skip the checks the portal lets an operator override."
    )
    Devices: list[str] = Field(
        default_factory=list, description="ICCIDs of the devices to change (1 to 100,000)."
    )
    ServiceProviderId: int = Field(description="The portal's id of the carrier account.")
    ChangeType: int = Field(description="What to change; see the table above.")
    StatusUpdate: StatusUpdatePayload | None = None


# ---- responses ----------------------------------------------------------------------------------


class BulkChangeAccepted(PortalModel):
    BulkChangeId: uuid.UUID
    Status: str
    DeviceCount: int
    QueuedCount: int
    ValidationFailedCount: int


class ProgressView(PortalModel):
    Completed: int = Field(description="Device changes in a terminal state.")
    Total: int
    Percent: float


class BulkChangeView(PortalModel):
    BulkChangeId: uuid.UUID
    ServiceProviderId: int
    ChangeType: int
    ChangeTypeName: str
    Status: str
    ErrorReason: str | None = None
    CreatedBy: str | None = None
    CreatedAt: datetime
    ProcessedAt: datetime | None = None
    DeviceCount: int
    Counts: dict[str, int] = Field(description="Device changes by status.")
    Progress: ProgressView


class DeviceChangeView(PortalModel):
    DeviceChangeId: int
    ICCID: str
    Status: str
    ValidationError: str | None = None
    ErrorCode: str | None = None
    ErrorMessage: str | None = None
    CarrierRequestId: str | None = None
    Attempts: int
    MSISDN: str | None = None
    UpdatedAt: datetime
    CompletedAt: datetime | None = None


class DeviceChangePage(PortalModel):
    Items: list[DeviceChangeView]
    NextCursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; absent on the last page."
    )
