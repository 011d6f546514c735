"""ChangeType 6, EditUsername: the username (in a ThingSpace custom field) and the cost center."""

from __future__ import annotations

from devicebulk_common import operations as ops
from devicebulk_common.models import bounds
from devicebulk_common.wire import UsernamePayload
from devicebulk_intake.bulk_changes.validation.common import Rule, fail_all

# ThingSpace's limits (a custom field's value, the cost center code), within our columns'.
MAX_USERNAME = bounds.USERNAME_MAX
MAX_COST_CENTER = bounds.COST_CENTER_MAX


def username_rule(payload: UsernamePayload) -> Rule:
    username = payload.NewUsername or None
    cost_center = payload.CostCenter or None
    if username is None and cost_center is None:
        return fail_all("Username names neither a NewUsername nor a CostCenter: nothing to change")
    if username is not None and len(username) > MAX_USERNAME:
        return fail_all(
            f"NewUsername is {len(username)} characters; ThingSpace's custom field takes "
            f"at most {MAX_USERNAME}"
        )
    if cost_center is not None and len(cost_center) > MAX_COST_CENTER:
        return fail_all(
            f"CostCenter is {len(cost_center)} characters; ThingSpace takes at most "
            f"{MAX_COST_CENTER}"
        )
    params = {"op": ops.EDIT_USERNAME, "username": username, "cost_center": cost_center}
    return lambda device: params
