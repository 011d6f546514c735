"""The whole data model (docs/architecture.md, The data). Import models from here."""

from devicebulk_common.models.base import Base
from devicebulk_common.models.carrier_state import CarrierCallGate, CarrierRateLimit, CarrierToken
from devicebulk_common.models.changes import (
    BulkChange,
    CarrierCallback,
    DeviceChange,
    DeviceChangeLog,
    NotificationSent,
    OutboxMessage,
)
from devicebulk_common.models.inventory import (
    CarrierRatePlan,
    CustomerRatePlan,
    CustomerRatePool,
    Device,
    DeviceIdentifierHistory,
    RevCustomer,
    RevService,
    ServiceProvider,
    Tenant,
)
from devicebulk_common.models.notification import NotificationAttempt

__all__ = [
    "Base",
    "BulkChange",
    "CarrierCallGate",
    "CarrierCallback",
    "CarrierRateLimit",
    "CarrierRatePlan",
    "CarrierToken",
    "CustomerRatePlan",
    "CustomerRatePool",
    "Device",
    "DeviceChange",
    "DeviceChangeLog",
    "DeviceIdentifierHistory",
    "NotificationAttempt",
    "NotificationSent",
    "OutboxMessage",
    "RevCustomer",
    "RevService",
    "ServiceProvider",
    "Tenant",
]
