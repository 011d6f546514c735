"""What a provider's ``integration`` (its carrier) lets a bulk change ask for: which change types,
and for a StatusUpdate which target statuses.

- ``thingspace`` (Verizon ThingSpace; also any provider stored before integrations existed):
  every change type; ``TargetStatus`` one of ``Active``, ``Suspend``, ``Restore``, ``Deactive``,
  ``Inventory``.
- ``jasper`` (Cisco Control Center): change types 1, 3, 4, 5, 6, 7. 8 and 9 are refused as a
  whole (a 422 problem): Control Center has no call that changes an ICCID or IMEI or deletes a
  device. ``TargetStatus`` names a SIM status the integration may set
  (``status_graph.DEFAULT_TARGETS``): the portal's ``Active``, ``Deactive``, ``Inventory`` mean
  ``ACTIVATED``, ``DEACTIVATED``, ``INVENTORY`` (``status_graph.PORTAL_TARGETS``), and a SIM
  status's own name (``ACTIVATED``, ``TEST_READY``, ``RETIRED``, ..., any case) is taken as it is.

These are whole-request checks (one target, one change type for every device): a problem refuses
the request with a 422 and stores nothing. Each device's transition is judged per device
(``jasper.py``).
"""

from __future__ import annotations

from devicebulk_common import contracts as c
from devicebulk_common.carriers.jasper import INTEGRATION as JASPER
from devicebulk_common.carriers.jasper import JasperConfig
from devicebulk_common.carriers.jasper.capabilities import capabilities
from devicebulk_common.carriers.jasper.status_graph import STATUSES, sim_target
from devicebulk_common.wire import BulkChangeRequest
from devicebulk_intake.errors import Unprocessable, UnsupportedChangeType

THINGSPACE = "thingspace"

# The settings intake judges a Control Center provider by (the adapter's defaults: the status
# graph, the custom fields and their length).
JASPER_CONFIG = JasperConfig()

# Control Center's answer to the change types it has no call for, from the adapter's capabilities.
_NO_CALL = capabilities(JASPER_CONFIG).unsupported
JASPER_REFUSED: dict[c.ChangeType, str] = {
    c.ChangeType.CHANGE_ICCID_OR_IMEI: _NO_CALL["change_identifier"],
    c.ChangeType.DEVICE_DELETION: _NO_CALL["delete"],
}
JASPER_CHANGE_TYPES = frozenset(c.ChangeType) - frozenset(JASPER_REFUSED)


def is_jasper(integration: str | None) -> bool:
    return integration == JASPER


def accepted_change_types(integration: str | None) -> frozenset[c.ChangeType]:
    return JASPER_CHANGE_TYPES if is_jasper(integration) else frozenset(c.ChangeType)


def jasper_targets() -> list[str]:
    """The SIM statuses a Control Center StatusUpdate may ask for, in the graph's order."""
    return [s for s in STATUSES if s in JASPER_CONFIG.status_graph.targets]


def check_change_type(change_type: c.ChangeType, integration: str | None, provider_id: int) -> None:
    """Refuse a change type the provider's carrier has no call for."""
    if is_jasper(integration) and change_type in JASPER_REFUSED:
        accepted = sorted(t.value for t in JASPER_CHANGE_TYPES)
        raise UnsupportedChangeType(
            f"ChangeType {change_type.value} ({change_type.name}) is not available for service "
            f"provider {provider_id}, a Cisco Control Center provider: "
            f"{JASPER_REFUSED[change_type]}. Accepted for this provider: "
            f"{', '.join(map(str, accepted))}.",
            supported=accepted,
            integration=JASPER,
        )


def check_target(request: BulkChangeRequest, integration: str | None) -> None:
    """Refuse a StatusUpdate whose TargetStatus the provider's carrier does not know."""
    assert request.StatusUpdate is not None
    target = request.StatusUpdate.TargetStatus
    if not is_jasper(integration):
        try:
            c.TargetStatus(target)
        except ValueError:
            raise Unprocessable(
                f"TargetStatus {target!r} is not one of "
                f"{', '.join(t.value for t in c.TargetStatus)}."
            ) from None
        return
    sim = sim_target(target)
    if sim is None or sim not in JASPER_CONFIG.status_graph.targets:
        named = f" (SIM status {sim})" if sim is not None and sim != target else ""
        raise Unprocessable(
            f"TargetStatus {target!r}{named} is not a status a Cisco Control Center provider "
            f"may set; one of {', '.join(jasper_targets())}, or the portal's Active "
            "(ACTIVATED), Deactive (DEACTIVATED), Inventory (INVENTORY). Control Center has "
            "no suspended status."
        )


def jasper_sim_target(request: BulkChangeRequest) -> str:
    """The SIM status of a request that passed :func:`check_target` for Control Center."""
    assert request.StatusUpdate is not None
    sim = sim_target(request.StatusUpdate.TargetStatus)
    assert sim is not None
    return sim
