"""The rules of a Verizon ThingSpace provider (integration ``thingspace``, and any provider
stored before integrations existed) where carriers differ: 3 StatusUpdate, 6 EditUsername and
7 CarrierRatePlanChange.

- **3**: ``TargetStatus`` is one of the portal's ``Active``, ``Suspend``, ``Restore``,
  ``Deactive``, ``Inventory`` (each its own ThingSpace call: ``status.py``); an activation needs
  a service plan (the request's, else the device's own) and a ZIP code
  (``ThingSpaceStatusUpdate.ZipCode``, else the place of use's).
- **6**: ``edit_username``: the username goes into the provider's custom field
  (``username_field``, one of CustomField1..5), at most ThingSpace's published custom field
  length; the cost center at most its cost center length (``ThingSpaceConfig``).
- **7**: ``change_plan`` to an active plan of the provider's catalogue; ThingSpace refuses a plan
  change on a suspended device and allows at most four a calendar month: both are checked
  here, before the carrier is called.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.carriers.thingspace_config import ThingSpaceConfig
from devicebulk_common.providers import CarrierConfig
from devicebulk_common.wire import BulkChangeRequest
from devicebulk_intake.bulk_changes.validation import inventory
from devicebulk_intake.bulk_changes.validation.carrier_plan import change_plan_rule
from devicebulk_intake.bulk_changes.validation.common import (
    DeviceSnapshot,
    Verdict,
    judge,
)
from devicebulk_intake.bulk_changes.validation.status import (
    activates,
    requested_plan,
    status_update_rule,
)
from devicebulk_intake.bulk_changes.validation.username import Limits, username_rule
from devicebulk_intake.errors import Unprocessable

RULES = frozenset(
    {c.ChangeType.STATUS_UPDATE, c.ChangeType.EDIT_USERNAME, c.ChangeType.CARRIER_RATE_PLAN_CHANGE}
)
MAX_PLAN_CHANGES_A_MONTH = 4


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
        # Every custom field takes as much; which one is the worker's (the provider's
        # username_field, else WORKER_USERNAME_CUSTOM_FIELD), so none is named.
        username_where="ThingSpace's custom field",
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
    if change_type is c.ChangeType.CARRIER_RATE_PLAN_CHANGE:
        assert request.CarrierRatePlanUpdate is not None
        plan = request.CarrierRatePlanUpdate.CarrierRatePlan
        states = await inventory.carrier_plan_states(session, provider_id, [plan])
        devices = await inventory.load_devices(
            session,
            tenant_id,
            provider_id,
            request.Devices,
            count_plan_changes=bool(states.get(plan)),
        )
        return judge(
            request.Devices,
            devices,
            change_plan_rule(plan, states, provider_id, plan_change_refusal),
        )
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


def plan_change_refusal(device: DeviceSnapshot) -> str | None:
    """ThingSpace's own limits on a plan change: none while suspended, four a month."""
    if device.status == c.DeviceStatus.SUSPENDED:
        return "the carrier does not change the plan of a suspended device"
    if device.plan_changes_this_month >= MAX_PLAN_CHANGES_A_MONTH:
        return (
            f"the plan of this device already changed {device.plan_changes_this_month} "
            f"times this month; the carrier allows {MAX_PLAN_CHANGES_A_MONTH}"
        )
    return None
