"""The rules of the carrier change types for a Cisco Control Center provider (integration
``jasper``): 3 StatusUpdate, 6 EditUsername, 7 CarrierRatePlanChange. 1, 4 and 5 change only our
database and are judged as for any provider; 8 and 9 never get here (``integration.py``).

Every choice comes from the provider's ``JasperConfig`` (its stored options over the defaults).

- **3**: ``set_status`` to the SIM status the request names (:func:`check_target`: one of the
  provider's ``status_targets``). The transition is checked against the provider's status
  graph (``status_transitions``) from the device's status as we hold it; a refused one is the
  device's ``ValidationFailed`` with the graph's reason. A device not at the carrier yet is
  refused.
- **6**: ``edit_username`` into the provider's custom fields, each value at most
  ``custom_field_max_length`` characters (and what our columns hold).
- **7**: ``change_plan`` to a rate plan of the provider's catalogue, active; ThingSpace's own
  limits (no plan change while suspended, four a month) are not Control Center's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common import operations as ops
from devicebulk_common.carriers.jasper import JasperConfig
from devicebulk_common.carriers.jasper.status_graph import STATUSES, refuse_from_neutral, sim_target
from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.providers import CarrierConfig
from devicebulk_common.wire import BulkChangeRequest
from devicebulk_intake.bulk_changes.validation import inventory
from devicebulk_intake.bulk_changes.validation.carrier_plan import change_plan_rule
from devicebulk_intake.bulk_changes.validation.common import (
    DeviceSnapshot,
    Rule,
    Verdict,
    judge,
)
from devicebulk_intake.bulk_changes.validation.username import Limits, username_rule
from devicebulk_intake.errors import Unprocessable

RULES = frozenset(
    {c.ChangeType.STATUS_UPDATE, c.ChangeType.EDIT_USERNAME, c.ChangeType.CARRIER_RATE_PLAN_CHANGE}
)

NOT_AT_CARRIER = "device is not at the carrier yet (Control Center SIMs are added by the operator)"


def _config(config: CarrierConfig) -> JasperConfig:
    assert isinstance(config, JasperConfig)
    return config


def targets(config: CarrierConfig) -> list[str]:
    """The SIM statuses the provider's StatusUpdate may ask for, in the graph's order."""
    return [s for s in STATUSES if s in _config(config).status_graph.targets]


def check_target(request: BulkChangeRequest, config: CarrierConfig) -> None:
    """Refuse a TargetStatus that is not one of the provider's targets (a 422 problem)."""
    assert request.StatusUpdate is not None
    target = request.StatusUpdate.TargetStatus
    sim = sim_target(target)
    if sim is None or sim not in _config(config).status_graph.targets:
        named = f" (SIM status {sim})" if sim is not None and sim != target else ""
        raise Unprocessable(
            f"TargetStatus {target!r}{named} is not a status this Cisco Control Center provider "
            f"may set; one of {', '.join(targets(config))}, or the portal's Active "
            "(ACTIVATED), Deactive (DEACTIVATED), Inventory (INVENTORY) when the provider "
            "allows them. Control Center has no suspended status."
        )


def requested_sim_status(request: BulkChangeRequest) -> str:
    """The SIM status of a request that passed :func:`check_target`."""
    assert request.StatusUpdate is not None
    sim = sim_target(request.StatusUpdate.TargetStatus)
    assert sim is not None
    return sim


def limits(config: CarrierConfig) -> Limits:
    jasper = _config(config)
    where = "Control Center's custom field"
    return Limits(
        username=jasper.custom_field_max_length,
        cost_center=jasper.custom_field_max_length,
        username_where=f"{where} {jasper.username_field}",
        cost_center_where=f"{where} {jasper.cost_center_field}",
    )


async def judge_devices(
    session: AsyncSession,
    tenant_id: int,
    request: BulkChangeRequest,
    change_type: c.ChangeType,
    config: CarrierConfig,
) -> list[Verdict]:
    provider_id = request.ServiceProviderId
    rule: Rule
    match change_type:
        case c.ChangeType.STATUS_UPDATE:
            rule = set_status_rule(requested_sim_status(request), config)
        case c.ChangeType.EDIT_USERNAME:
            assert request.Username is not None
            rule = username_rule(request.Username, limits(config))
        case c.ChangeType.CARRIER_RATE_PLAN_CHANGE:
            assert request.CarrierRatePlanUpdate is not None
            plan = request.CarrierRatePlanUpdate.CarrierRatePlan
            states = await inventory.carrier_plan_states(session, provider_id, [plan])
            rule = change_plan_rule(plan, states, provider_id)
        case _:  # pragma: no cover - RULES lists the cases above
            raise AssertionError(change_type)
    devices = await inventory.load_devices(session, tenant_id, provider_id, request.Devices)
    return judge(request.Devices, devices, rule)


def set_status_rule(sim_status: str, config: CarrierConfig) -> Rule:
    params = {"op": ops.SET_STATUS, "status": sim_status}  # shared, read-only
    graph = _config(config).status_graph

    def rule(device: DeviceSnapshot) -> dict[str, Any] | str:
        if device.status == DeviceStatus.NOT_PROVISIONED:
            return NOT_AT_CARRIER
        if reason := refuse_from_neutral(device.status, sim_status, graph):
            return reason
        return params

    return rule
