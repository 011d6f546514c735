"""The carrier's service plan, against the provider's catalogue.

:func:`plan_problem` is the one check of a plan against the provider's ``carrier_rate_plan``
catalogue: a plan change (7) and an activation (3, ``Active``) of every carrier go through it;
:func:`change_plan_rule` is the plan change (7) of every carrier; each integration passes its
own limits on it from its module (``thingspace.py``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from devicebulk_common import operations as ops
from devicebulk_intake.bulk_changes.validation.common import DeviceSnapshot, Rule, fail_all


def plan_problem(plan: str, states: Mapping[str, bool], provider_id: int) -> str | None:
    """Why the provider's carrier plan ``plan`` cannot be used (not in its catalogue, or
    inactive), or None. ``states``: ``{code: is_active}`` of the provider's plans among those
    asked for (``inventory.carrier_plan_states``)."""
    if plan not in states:
        return f"carrier rate plan {plan!r} does not exist for service provider {provider_id}"
    if not states[plan]:
        return f"carrier rate plan {plan!r} is not active"
    return None


def change_plan_rule(
    plan: str,
    states: Mapping[str, bool],
    provider_id: int,
    refuse: Callable[[DeviceSnapshot], str | None] | None = None,
) -> Rule:
    """The plan change to ``plan`` (``states``: see :func:`plan_problem`); ``refuse``: the
    integration's own reason to refuse a device, or None."""
    if problem := plan_problem(plan, states, provider_id):
        return fail_all(problem)
    shared: dict[str | None, dict[str, Any]] = {}  # params by current plan (read-only)

    def rule(device: DeviceSnapshot) -> dict[str, Any] | str:
        if refuse is not None and (reason := refuse(device)):
            return reason
        current = device.carrier_rate_plan
        if (params := shared.get(current)) is None:
            params = shared[current] = {
                "op": ops.CHANGE_PLAN,
                "service_plan": plan,
                "current_service_plan": current,
            }
        return params

    return rule
