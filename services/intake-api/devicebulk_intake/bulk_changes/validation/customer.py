"""ChangeType 1, CustomerAssignment, and ChangeType 4, CustomerRatePlanChange: the tenant's own
catalogue (Rev customers, customer rate plans and pools). Database only: no carrier call."""

from __future__ import annotations

from collections.abc import Mapping

from devicebulk_common import operations as ops
from devicebulk_common.wire import CustomerRatePlanPayload, RevServicePayload
from devicebulk_intake.bulk_changes.validation.common import Rule, fail_all


def catalogue_problem(what: str, key: object, states: Mapping[object, bool]) -> str | None:
    """Why the tenant's ``what`` ``key`` cannot be used (missing or inactive), or None."""
    if key not in states:
        return f"{what} {key} does not exist for this tenant"
    if not states[key]:
        return f"{what} {key} is not active"
    return None


def assign_customer_rule(payload: RevServicePayload, customers: Mapping[object, bool]) -> Rule:
    """``customers``: ``{id: is_active}`` of the tenant's Rev customers among the requested."""
    if problem := catalogue_problem("Rev customer", payload.RevCustomerId, customers):
        return fail_all(problem)
    params = {
        "op": ops.ASSIGN_CUSTOMER,
        "rev_customer_id": payload.RevCustomerId,
        "create_rev_service": payload.CreateRevService,
    }
    return lambda device: params


def customer_plan_rule(
    payload: CustomerRatePlanPayload, plans: Mapping[object, bool], pools: Mapping[object, bool]
) -> Rule:
    """``plans``/``pools``: ``{id: is_active}`` of the tenant's plans and pools requested."""
    plan, pool, allocation = (
        payload.CustomerRatePlanId,
        payload.CustomerRatePoolId,
        payload.DataAllocationMB,
    )
    if plan is None and pool is None and allocation is None:
        return fail_all(
            "CustomerRatePlanUpdate names no CustomerRatePlanId, CustomerRatePoolId or "
            "DataAllocationMB: nothing to change"
        )
    problem = None
    if plan is not None:
        problem = catalogue_problem("customer rate plan", plan, plans)
    if problem is None and pool is not None:
        problem = catalogue_problem("customer rate pool", pool, pools)
    if problem is None and allocation is not None and allocation < 0:
        problem = "DataAllocationMB must not be negative"
    if problem:
        return fail_all(problem)
    params = {
        "op": ops.CHANGE_CUSTOMER_PLAN,
        "customer_rate_plan_id": plan,
        "customer_rate_pool_id": pool,
        "data_allocation_mb": allocation,
    }
    return lambda device: params
