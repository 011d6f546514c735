"""ChangeType 6, EditUsername: the username and the cost center, each bounded by what the
provider's carrier takes (its integration's module gives the :class:`Limits`: ``thingspace.py``,
``jasper.py``) within our columns'."""

from __future__ import annotations

from dataclasses import dataclass

from devicebulk_common import operations as ops
from devicebulk_common.models import bounds
from devicebulk_common.wire import UsernamePayload
from devicebulk_intake.bulk_changes.validation.common import Rule, fail_all


@dataclass(frozen=True)
class Limits:
    """The longest username and cost center the carrier takes, and where each goes (for the
    reason a too-long value is given: "Control Center's custom field accountCustom1")."""

    username: int
    cost_center: int
    username_where: str
    cost_center_where: str

    def within_columns(self) -> Limits:
        return Limits(
            min(self.username, bounds.USERNAME_MAX),
            min(self.cost_center, bounds.COST_CENTER_MAX),
            self.username_where,
            self.cost_center_where,
        )


def username_rule(payload: UsernamePayload, limits: Limits) -> Rule:
    limits = limits.within_columns()
    username = payload.NewUsername or None
    cost_center = payload.CostCenter or None
    if username is None and cost_center is None:
        return fail_all("Username names neither a NewUsername nor a CostCenter: nothing to change")
    fields = (
        ("NewUsername", username, limits.username, limits.username_where),
        ("CostCenter", cost_center, limits.cost_center, limits.cost_center_where),
    )
    for name, value, limit, where in fields:
        if value is not None and len(value) > limit:
            return fail_all(f"{name} is {len(value)} characters; {where} takes at most {limit}")
    params = {"op": ops.EDIT_USERNAME, "username": username, "cost_center": cost_center}
    return lambda device: params
