"""The carrier's service plan, against the provider's catalogue.

:func:`plan_problem` is the one check of a plan against the provider's ``carrier_rate_plan``
catalogue: a plan change (7) and an activation (3, ``Active``) of every carrier go through it;
each integration's own limits on a plan change are in its module (``thingspace.py``)."""

from __future__ import annotations

from collections.abc import Mapping


def plan_problem(plan: str, states: Mapping[str, bool], provider_id: int) -> str | None:
    """Why the provider's carrier plan ``plan`` cannot be used (not in its catalogue, or
    inactive), or None. ``states``: ``{code: is_active}`` of the provider's plans among those
    asked for (``inventory.carrier_plan_states``)."""
    if plan not in states:
        return f"carrier rate plan {plan!r} does not exist for service provider {provider_id}"
    if not states[plan]:
        return f"carrier rate plan {plan!r} is not active"
    return None
