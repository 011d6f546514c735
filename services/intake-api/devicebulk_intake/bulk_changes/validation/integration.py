"""What a provider's carrier lets a bulk change ask for, from its integration and its stored
options (``service_provider.carrier_options`` over the integration's defaults: the status graph,
the custom fields and their length), and which module judges its devices.

- Change types: one the carrier has no call for (its capabilities' ``unsupported``: Control
  Center cannot change an ICCID or IMEI or delete a device) is refused as a whole, a 422 problem.
- StatusUpdate targets: each integration's module reads ``TargetStatus`` its own way
  (``thingspace.py``: the portal's ``Active``, ``Suspend``, ...; ``jasper.py``: a SIM status of
  the provider's graph).
- Devices: the integration's module gives each device its verdict (``thingspace.py``,
  ``jasper.py``); rules every carrier shares live in their own modules.

These are whole-request checks: a problem refuses the request with a 422 and stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from devicebulk_common import contracts as c
from devicebulk_common.carriers.capabilities import CarrierCapabilities
from devicebulk_common.models import ServiceProvider
from devicebulk_common.providers import (
    CarrierConfig,
    InvalidCarrierOptions,
    UnsupportedIntegration,
    capabilities_of,
    provider_config,
)
from devicebulk_common.wire import BulkChangeRequest
from devicebulk_intake.bulk_changes.validation import jasper, thingspace
from devicebulk_intake.errors import Unprocessable, UnsupportedChangeType

# The carrier operation a change type needs (the others run on any carrier).
NEEDS: dict[c.ChangeType, str] = {
    c.ChangeType.CHANGE_ICCID_OR_IMEI: "change_identifier",
    c.ChangeType.DEVICE_DELETION: "delete",
}


@dataclass(frozen=True)
class Carrier:
    """What intake judges one provider's requests by."""

    provider_id: int
    integration: str
    config: CarrierConfig
    capabilities: CarrierCapabilities

    @property
    def name(self) -> str:
        return NAMES.get(self.integration, self.integration)


NAMES = {"thingspace": "Verizon ThingSpace", "jasper": "Cisco Control Center"}


def carrier_of(provider: ServiceProvider) -> Carrier:
    """The provider's carrier; stored options its integration refuses are a 422 problem
    naming the fix (they are checked when stored: only a hand-edited row gets here)."""
    try:
        config = provider_config(provider)
        capabilities = capabilities_of(provider.integration, config)
    except (InvalidCarrierOptions, UnsupportedIntegration) as exc:
        raise Unprocessable(
            f"ServiceProviderId {provider.id} cannot take requests: {exc}. An operator fixes "
            "it with devicebulk-admin update-provider."
        ) from None
    return Carrier(provider.id, provider.integration, config, capabilities)


def refused_change_types(carrier: Carrier) -> dict[c.ChangeType, str]:
    """Change types the carrier has no call for, with its reason."""
    return {
        change_type: carrier.capabilities.unsupported.get(operation, "the carrier has no call")
        for change_type, operation in NEEDS.items()
        if not carrier.capabilities.supports(operation)
    }


def accepted_change_types(carrier: Carrier) -> frozenset[c.ChangeType]:
    return frozenset(c.ChangeType) - frozenset(refused_change_types(carrier))


def check_change_type(change_type: c.ChangeType, carrier: Carrier) -> None:
    """Refuse a change type the provider's carrier has no call for."""
    refused = refused_change_types(carrier)
    if change_type in refused:
        accepted = sorted(t.value for t in accepted_change_types(carrier))
        raise UnsupportedChangeType(
            f"ChangeType {change_type.value} ({change_type.name}) is not available for service "
            f"provider {carrier.provider_id}, a {carrier.name} provider: "
            f"{refused[change_type]}. Accepted for this provider: "
            f"{', '.join(map(str, accepted))}.",
            supported=accepted,
            integration=carrier.integration,
        )


class TargetCheck(Protocol):
    def __call__(self, request: BulkChangeRequest, config: CarrierConfig) -> None: ...


def check_target(request: BulkChangeRequest, carrier: Carrier) -> None:
    """Refuse a StatusUpdate whose TargetStatus the provider's carrier does not know."""
    checks: dict[str, TargetCheck] = {
        "jasper": jasper.check_target,
        "thingspace": thingspace.check_target,
    }
    checks[carrier.integration](request, carrier.config)
