"""ChangeType 7, CarrierRatePlanChange: the carrier's service plan.

ThingSpace refuses a plan change on a suspended device and allows at most four a calendar
month; both are checked here, before the carrier is called.

:func:`plan_problem` is the one check of a plan against the provider's ``carrier_rate_plan``
catalogue: a plan change (7) and an activation (3, ``Active``) both go through it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devicebulk_common import operations as ops
from devicebulk_common.contracts import DeviceStatus
from devicebulk_intake.bulk_changes.validation.common import DeviceSnapshot, Rule, fail_all

MAX_PLAN_CHANGES_A_MONTH = 4


def plan_problem(plan: str, states: Mapping[str, bool], provider_id: int) -> str | None:
    """Why the provider's carrier plan ``plan`` cannot be used (not in its catalogue, or
    inactive), or None. ``states``: ``{code: is_active}`` of the provider's plans among those
    asked for (``inventory.carrier_plan_states``)."""
    if plan not in states:
        return f"carrier rate plan {plan!r} does not exist for service provider {provider_id}"
    if not states[plan]:
        return f"carrier rate plan {plan!r} is not active"
    return None


def carrier_plan_rule(plan: str, states: Mapping[str, bool], provider_id: int) -> Rule:
    """``states``: the provider's catalogue entries among ``{plan}`` (see :func:`plan_problem`)."""
    if problem := plan_problem(plan, states, provider_id):
        return fail_all(problem)

    shared: dict[str | None, dict[str, Any]] = {}  # params by current plan (read-only)

    def rule(device: DeviceSnapshot) -> dict[str, Any] | str:
        if device.status == DeviceStatus.SUSPENDED:
            return "the carrier does not change the plan of a suspended device"
        if device.plan_changes_this_month >= MAX_PLAN_CHANGES_A_MONTH:
            return (
                f"the plan of this device already changed {device.plan_changes_this_month} "
                f"times this month; the carrier allows {MAX_PLAN_CHANGES_A_MONTH}"
            )
        current = device.carrier_rate_plan
        if (params := shared.get(current)) is None:
            params = shared[current] = {
                "op": ops.CHANGE_PLAN,
                "service_plan": plan,
                "current_service_plan": current,
            }
        return params

    return rule
