"""The rules of the carrier change types for a Cisco Control Center provider (integration
``jasper``): 3 StatusUpdate, 6 EditUsername, 7 CarrierRatePlanChange. 1, 4 and 5 change only our
database and are judged as for any provider; 8 and 9 never get here (``integration.py``).

- **3**: ``set_status`` to the SIM status the request names (``integration.check_target``). The
  transition is checked against the Control Center status graph (``carriers.jasper.
  status_graph``) from the device's status as we hold it; a refused one is the device's
  ``ValidationFailed`` with the graph's reason. A device not at the carrier yet is refused.
- **6**: ``edit_username`` into the provider's custom fields, each value at most
  ``JasperConfig.custom_field_max_length`` characters (and what our columns hold).
- **7**: ``change_plan`` to a rate plan of the provider's catalogue, active; ThingSpace's own
  limits (no plan change while suspended, four a month) are not Control Center's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devicebulk_common import operations as ops
from devicebulk_common.carriers.jasper.status_graph import refuse_from_neutral
from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.models import bounds
from devicebulk_common.wire import UsernamePayload
from devicebulk_intake.bulk_changes.validation.carrier_plan import plan_problem
from devicebulk_intake.bulk_changes.validation.common import DeviceSnapshot, Rule, fail_all
from devicebulk_intake.bulk_changes.validation.integration import JASPER_CONFIG

# The custom fields' bound, within our columns'.
MAX_USERNAME = min(bounds.USERNAME_MAX, JASPER_CONFIG.custom_field_max_length)
MAX_COST_CENTER = min(bounds.COST_CENTER_MAX, JASPER_CONFIG.custom_field_max_length)

NOT_AT_CARRIER = "device is not at the carrier yet (Control Center SIMs are added by the operator)"


def set_status_rule(sim_status: str) -> Rule:
    params = {"op": ops.SET_STATUS, "status": sim_status}  # shared, read-only
    graph = JASPER_CONFIG.status_graph

    def rule(device: DeviceSnapshot) -> dict[str, Any] | str:
        if device.status == DeviceStatus.NOT_PROVISIONED:
            return NOT_AT_CARRIER
        if reason := refuse_from_neutral(device.status, sim_status, graph):
            return reason
        return params

    return rule


def change_plan_rule(plan: str, states: Mapping[str, bool], provider_id: int) -> Rule:
    if problem := plan_problem(plan, states, provider_id):
        return fail_all(problem)
    shared: dict[str | None, dict[str, Any]] = {}  # params by current plan (read-only)

    def rule(device: DeviceSnapshot) -> dict[str, Any] | str:
        current = device.carrier_rate_plan
        if (params := shared.get(current)) is None:
            params = shared[current] = {
                "op": ops.CHANGE_PLAN,
                "service_plan": plan,
                "current_service_plan": current,
            }
        return params

    return rule


def username_rule(payload: UsernamePayload) -> Rule:
    username = payload.NewUsername or None
    cost_center = payload.CostCenter or None
    if username is None and cost_center is None:
        return fail_all("Username names neither a NewUsername nor a CostCenter: nothing to change")
    fields = (
        ("NewUsername", username, MAX_USERNAME, JASPER_CONFIG.username_field),
        ("CostCenter", cost_center, MAX_COST_CENTER, JASPER_CONFIG.cost_center_field),
    )
    for name, value, limit, custom_field in fields:
        if value is not None and len(value) > limit:
            return fail_all(
                f"{name} is {len(value)} characters; Control Center's custom field "
                f"{custom_field} takes at most {limit}"
            )
    params = {"op": ops.EDIT_USERNAME, "username": username, "cost_center": cost_center}
    return lambda device: params
