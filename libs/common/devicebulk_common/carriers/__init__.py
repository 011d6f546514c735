"""Carrier adapters: one interface (`CarrierAdapter`), one implementation per carrier."""

from .base import (
    AsyncRequestAccepted,
    CallbackRegistration,
    CarrierAdapter,
    CarrierDevice,
    CarrierExchange,
    DeviceRef,
    PlaceOfUse,
    SyncActionResult,
    SyncDeviceResult,
)
from .errors import (
    AuthExpiredError,
    CarrierError,
    CredentialsRefusedError,
    PermanentCarrierError,
    ThrottledError,
    TransientCarrierError,
    error_from_exception,
    error_from_status,
    parse_retry_after,
)
from .redaction import redact_body
from .thingspace import ThingSpaceAdapter
from .thingspace_errors import classify, error_from_response
from .tokens import CachedToken, InProcessTokenCache, TokenCache

__all__ = [
    "AsyncRequestAccepted",
    "AuthExpiredError",
    "CachedToken",
    "CallbackRegistration",
    "CarrierAdapter",
    "CarrierDevice",
    "CarrierError",
    "CarrierExchange",
    "CredentialsRefusedError",
    "DeviceRef",
    "InProcessTokenCache",
    "PermanentCarrierError",
    "PlaceOfUse",
    "SyncActionResult",
    "SyncDeviceResult",
    "ThingSpaceAdapter",
    "ThrottledError",
    "TokenCache",
    "TransientCarrierError",
    "classify",
    "error_from_exception",
    "error_from_response",
    "error_from_status",
    "parse_retry_after",
    "redact_body",
]
