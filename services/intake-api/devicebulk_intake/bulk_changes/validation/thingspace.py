"""The rules of a Verizon ThingSpace provider (integration ``thingspace``, and any provider
stored before integrations existed) where carriers differ: 3 StatusUpdate and 6 EditUsername.

- **3**: ``TargetStatus`` is one of the portal's ``Active``, ``Suspend``, ``Restore``,
  ``Deactive``, ``Inventory`` (each its own ThingSpace call: ``status.py``); an activation needs
  a service plan (the request's, else the device's own) and a ZIP code
  (``ThingSpaceStatusUpdate.ZipCode``, else the place of use's).
- **6**: ``edit_username``: the username goes into the provider's custom field
  (``username_field``, one of CustomField1..5), at most ThingSpace's published custom field
  length; the cost center at most its cost center length (``ThingSpaceConfig``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.carriers.thingspace_config import ThingSpaceConfig
from devicebulk_common.providers import CarrierConfig
from devicebulk_common.wire import BulkChangeRequest
from devicebulk_intake.bulk_changes.validation import inventory
from devicebulk_intake.bulk_changes.validation.common import Verdict, judge
from devicebulk_intake.bulk_changes.validation.status import (
    activates,
    requested_plan,
    status_update_rule,
)
from devicebulk_intake.bulk_changes.validation.username import Limits, username_rule
from devicebulk_intake.errors import Unprocessable

RULES = frozenset({c.ChangeType.STATUS_UPDATE, c.ChangeType.EDIT_USERNAME})


def _config(config: CarrierConfig) -> ThingSpaceConfig:
    assert isinstance(config, ThingSpaceConfig)
    return config


def check_target(request: BulkChangeRequest, config: CarrierConfig) -> None:
    assert request.StatusUpdate is not None
    target = request.StatusUpdate.TargetStatus
    try:
        c.TargetStatus(target)
    except ValueError:
        raise Unprocessable(
            f"TargetStatus {target!r} is not one of {', '.join(t.value for t in c.TargetStatus)}."
        ) from None


def activation_problem(plan: str | None, zip_code: str | None) -> str | None:
    """What a ThingSpace activation lacks, or None."""
    if not plan:
        return "activation needs a service plan (ThingSpaceStatusUpdate.ServicePlan)"
    if not zip_code:
        return "activation needs a ZIP code (ThingSpaceStatusUpdate.ZipCode)"
    return None


def limits(config: CarrierConfig) -> Limits:
    ts = _config(config)
    return Limits(
        username=ts.custom_field_max_length,
        cost_center=ts.cost_center_max_length,
        username_where=f"ThingSpace's custom field {ts.username_field}",
        cost_center_where="ThingSpace's cost center",
    )


async def judge_devices(
    session: AsyncSession,
    tenant_id: int,
    request: BulkChangeRequest,
    change_type: c.ChangeType,
    config: CarrierConfig,
) -> list[Verdict]:
    provider_id = request.ServiceProviderId
    if change_type is c.ChangeType.EDIT_USERNAME:
        assert request.Username is not None
        rule = username_rule(request.Username, limits(config))
        devices = await inventory.load_devices(session, tenant_id, provider_id, request.Devices)
        return judge(request.Devices, devices, rule)
    assert change_type is c.ChangeType.STATUS_UPDATE, change_type
    # The devices first: an activation without a ServicePlan sends each device's own plan,
    # and every plan it would send is checked against the provider's catalogue.
    devices = await inventory.load_devices(session, tenant_id, provider_id, request.Devices)
    plans: dict[str, bool] = {}
    if activates(request):
        wanted = requested_plan(request)
        codes = [wanted] if wanted else [d.carrier_rate_plan for d in devices.values()]
        plans = await inventory.carrier_plan_states(session, provider_id, filter(None, codes))
    rule = status_update_rule(request, plans, provider_id, activation_problem)
    return judge(request.Devices, devices, rule)
