"""ChangeType 7, CarrierRatePlanChange: the carrier's service plan.

ThingSpace refuses a plan change on a suspended device and allows at most four a calendar
month; both are checked here, before the carrier is called."""

from __future__ import annotations

from typing import Any

from devicebulk_common import operations as ops
from devicebulk_common.contracts import DeviceStatus
from devicebulk_intake.bulk_changes.validation.common import DeviceSnapshot, Rule, fail_all

MAX_PLAN_CHANGES_A_MONTH = 4


def carrier_plan_rule(plan: str, plan_active: bool | None, provider_id: int) -> Rule:
    """``plan_active``: the plan's state in ``carrier_rate_plan`` (None: no such plan)."""
    if plan_active is None:
        return fail_all(
            f"carrier rate plan {plan!r} does not exist for service provider {provider_id}"
        )
    if not plan_active:
        return fail_all(f"carrier rate plan {plan!r} is not active")

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
