"""The portal's wire format: PascalCase keys, ``ChangeType`` an integer.

These models are what integrators read in the OpenAPI docs, so every field says what it is.
Unknown keys are ignored, as the portal sends some that only its other carriers read.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from devicebulk_common.models import bounds as b


class PortalModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class ServiceAddress(PortalModel):
    AddressLine1: b.Text200
    AddressLine2: b.Text200 | None = None
    City: b.Text100
    State: b.Text50
    Zip: b.ZipCode = Field(description="5 digits, or ZIP+4 (12345-6789).")
    Zip4: b.Zip4 | None = None
    Country: b.Text50


class PersonName(PortalModel):
    FirstName: b.Text100
    LastName: b.Text100
    Title: b.Text50 | None = None
    MiddleName: b.Text100 | None = None
    Suffix: b.Text50 | None = None


class PlaceOfUse(PortalModel):
    """The service address E911 rules need on activation."""

    Address: ServiceAddress
    CustomerName: PersonName


class ThingSpaceStatusParams(PortalModel):
    """ThingSpace-specific parameters of a status update."""

    ServicePlan: b.ServicePlan | None = Field(
        default=None,
        description="Carrier service plan for activation, one of the provider's plans; "
        "defaults to the device's current plan.",
    )
    ZipCode: b.ZipCode | None = Field(
        default=None,
        description="ZIP code the MDN is assigned from (activation); defaults to the place of "
        "use's ZIP.",
    )
    PrimaryPlaceOfUse: PlaceOfUse | None = None
    SkuNumber: b.Text50 | None = None
    ReasonCode: b.Text10 = Field(default="FF", description="Deactivation reason code.")
    EtfWaiver: bool = False
    DeleteAfterDeactivation: bool = False
    WithBilling: bool | None = Field(default=None, description="Suspend with billing.")


class JasperStatusParams(PortalModel):
    """Cisco Jasper (Control Center) parameters; accepted for the portal's sake and not sent (Edit
    Device Details has no reason code), unused on ThingSpace."""

    ReasonCode: b.Text50 | None = None


class StatusUpdatePayload(PortalModel):
    """ChangeType 3."""

    TargetStatus: b.Text50 = Field(
        description="ThingSpace provider: Active, Suspend, Restore, Deactive or Inventory (add "
        "to the carrier's inventory as preactive). Cisco Control Center provider: a SIM status "
        "(ACTIVATED, DEACTIVATED, ACTIVATION_READY, INVENTORY, RETIRED, TEST_READY; any case) "
        "or Active, Deactive, Inventory (= ACTIVATED, DEACTIVATED, INVENTORY)."
    )
    ThingSpaceStatusUpdate: ThingSpaceStatusParams | None = None
    JasperStatusUpdate: JasperStatusParams | None = None


def _id_text(value: object) -> object:
    """The portal sends some ids as numbers and some as strings; keep them as text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class RevServicePayload(PortalModel):
    """ChangeType 1: assign the devices to a Rev customer (database only)."""

    RevCustomerId: Annotated[str, BeforeValidator(_id_text), b.Clean] = Field(
        min_length=1,
        max_length=b.REV_CUSTOMER_ID_MAX,
        description="The Rev customer, one of the tenant's.",
    )
    CreateRevService: bool = Field(
        default=False, description="Also open a Rev service for each device."
    )


class CustomerRatePlanPayload(PortalModel):
    """ChangeType 4: the tenant's own rate plan, pool and allocation (database only)."""

    CustomerRatePlanId: b.Id | None = Field(default=None, description="One of the tenant's plans.")
    CustomerRatePoolId: b.Id | None = Field(default=None, description="One of the tenant's pools.")
    DataAllocationMB: b.DataAllocation | None = Field(
        default=None, description="Data allocation in MB (0 to 2,147,483,647)."
    )


class UsernamePayload(PortalModel):
    """ChangeType 6: the username (a carrier custom field) and the cost center."""

    NewUsername: b.Username | None = Field(
        default=None,
        description="Up to 50 characters (ThingSpace's custom field limit; Control Center's "
        "custom field, configurable).",
    )
    CostCenter: b.CostCenter | None = Field(default=None, description="Up to 36 characters.")


class CarrierRatePlanPayload(PortalModel):
    """ChangeType 7: the carrier's service plan."""

    CarrierRatePlan: b.ServicePlan = Field(
        description="The new service plan's code, one of the provider's active plans.",
    )


class IdentifierChange(PortalModel):
    """ChangeType 8: one device's old → new identifier pair.

    The device is found by ``OldICCID`` (or, without one, by ``OldIMEI``). An ICCID change
    needs ``NewICCID``; an IMEI change needs ``OldIMEI`` and ``NewIMEI``.
    """

    IdentifierType: Literal["ICCID", "IMEI"] = Field(description="Which identifier changes.")
    OldICCID: b.DeviceKey | None = None
    NewICCID: b.DeviceKey | None = None
    OldIMEI: b.DeviceKey | None = None
    NewIMEI: b.DeviceKey | None = None
    AddCustomerRatePlan: bool = Field(
        default=False, description="Also put the device on `CustomerRatePlanId`."
    )
    CustomerRatePlanId: b.Id | None = Field(
        default=None, description="One of the tenant's active plans; with AddCustomerRatePlan."
    )

    @property
    def device_key(self) -> str:
        """How the device is named: its old ICCID, else its old IMEI, else empty."""
        return self.OldICCID or self.OldIMEI or ""


class BulkChangeRequest(PortalModel):
    OverrideValidation: bool = Field(
        default=False,
        description="Skip the checks the portal lets an operator override (archival: recent "
        "usage and an active Rev service).",
    )
    Devices: list[b.DeviceKey] = Field(
        default_factory=list,
        description="ICCIDs of the devices to change (1 to 100,000). ChangeType 8 names its "
        "devices in `IdentifierChanges` and may leave this out.",
    )
    ServiceProviderId: b.Id = Field(description="The portal's id of the carrier account.")
    ChangeType: b.Int4 = Field(
        description="1 CustomerAssignment, 3 StatusUpdate, 4 CustomerRatePlanChange, 5 Archival, "
        "6 EditUsername, 7 CarrierRatePlanChange, 8 ChangeICCIDorIMEI, 9 DeviceDeletion."
    )
    StatusUpdate: StatusUpdatePayload | None = Field(default=None, description="ChangeType 3.")
    RevService: RevServicePayload | None = Field(default=None, description="ChangeType 1.")
    CustomerRatePlanUpdate: CustomerRatePlanPayload | None = Field(
        default=None, description="ChangeType 4."
    )
    Username: UsernamePayload | None = Field(default=None, description="ChangeType 6.")
    CarrierRatePlanUpdate: CarrierRatePlanPayload | None = Field(
        default=None, description="ChangeType 7."
    )
    IdentifierChanges: list[IdentifierChange] | None = Field(
        default=None, description="ChangeType 8: one old → new pair per device."
    )


# ---- responses ----------------------------------------------------------------------------------


class BulkChangeAccepted(PortalModel):
    BulkChangeId: uuid.UUID
    Status: str = Field(
        description="NEW (devices queued), PROCESSED (no device passed validation: nothing to "
        "run) or ERROR (it cannot run at all; see ErrorReason)."
    )
    DeviceCount: int
    QueuedCount: int
    ValidationFailedCount: int
    CancelledCount: int = Field(
        default=0, description="Valid devices that will not run because the change cannot."
    )
    ErrorReason: str | None = None


class DeviceVerdict(PortalModel):
    """What validation decided for one device (the dry run's answer)."""

    ICCID: str
    Ok: bool
    Operation: str | None = Field(
        default=None, description="What would run for it (e.g. activate, change_plan)."
    )
    Error: str | None = Field(default=None, description="Why it would not run.")


class ValidationReport(PortalModel):
    """The dry run: the verdicts a submit would store, with nothing stored."""

    ServiceProviderId: int
    ChangeType: int
    DeviceCount: int
    OkCount: int
    FailedCount: int
    ErrorReason: str | None = Field(
        default=None,
        description="Set when the change as a whole could not run (e.g. the provider's writes "
        "are disabled): a submit would be stored as ERROR and its valid devices Cancelled.",
    )
    Devices: list[DeviceVerdict]


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
