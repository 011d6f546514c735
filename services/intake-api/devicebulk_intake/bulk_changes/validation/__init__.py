"""Per-device validation, following the portal's rules, one module a change type.

Each device gets a :class:`Verdict`: the operation to run with its parameters (``params``, per
``devicebulk_common.operations``) or the reason it cannot run. The rules are pure functions;
:func:`validate` loads what they read in a few set-based queries (two or three whatever the
number of devices) and applies them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common.contracts import ChangeType
from devicebulk_common.models import CustomerRatePlan, CustomerRatePool, RevCustomer
from devicebulk_common.wire import BulkChangeRequest
from devicebulk_intake.bulk_changes.validation import inventory, jasper, thingspace
from devicebulk_intake.bulk_changes.validation.archival import archival_rule, deletion_rule
from devicebulk_intake.bulk_changes.validation.common import DeviceSnapshot, Rule, Verdict, judge
from devicebulk_intake.bulk_changes.validation.customer import (
    assign_customer_rule,
    customer_plan_rule,
)
from devicebulk_intake.bulk_changes.validation.identifiers import (
    IdentifierContext,
    identifier_verdicts,
    new_identifiers,
    wanted_identifiers,
)
from devicebulk_intake.bulk_changes.validation.integration import Carrier

__all__ = ["Carrier", "DeviceSnapshot", "Verdict", "validate"]

# Each integration's module: the change types it judges by its own rules, and how.
BY_INTEGRATION = {
    "jasper": (jasper.RULES, jasper.judge_devices),
    "thingspace": (thingspace.RULES, thingspace.judge_devices),
}


async def validate(
    session: AsyncSession,
    tenant_id: int,
    request: BulkChangeRequest,
    change_type: ChangeType,
    carrier: Carrier,
) -> list[Verdict]:
    """One verdict per device of ``request`` (already checked as a whole, also against what the
    provider's ``carrier`` accepts), in order: the carrier's integration judges the change
    types where carriers differ, the rules below the others."""
    provider_id = request.ServiceProviderId
    own_rules, judge_devices = BY_INTEGRATION[carrier.integration]
    if change_type in own_rules:
        return await judge_devices(session, tenant_id, request, change_type, carrier.config)
    if change_type is ChangeType.CHANGE_ICCID_OR_IMEI:
        return await _identifier_changes(session, tenant_id, request)
    rule: Rule
    load = {"rev_services": False}
    match change_type:
        case ChangeType.CUSTOMER_ASSIGNMENT:
            assert request.RevService is not None
            customers = await inventory.catalogue_states(
                session, RevCustomer, tenant_id, [request.RevService.RevCustomerId]
            )
            rule = assign_customer_rule(request.RevService, customers)
        case ChangeType.CUSTOMER_RATE_PLAN_CHANGE:
            payload = request.CustomerRatePlanUpdate
            assert payload is not None
            plans = await inventory.catalogue_states(
                session, CustomerRatePlan, tenant_id, _present(payload.CustomerRatePlanId)
            )
            pools = await inventory.catalogue_states(
                session, CustomerRatePool, tenant_id, _present(payload.CustomerRatePoolId)
            )
            rule = customer_plan_rule(payload, plans, pools)
        case ChangeType.ARCHIVAL:
            load["rev_services"] = not request.OverrideValidation
            rule = archival_rule(request.OverrideValidation)
        case ChangeType.DEVICE_DELETION:
            rule = deletion_rule()
        case _:  # pragma: no cover - every other ChangeType is its integration's (above)
            raise AssertionError(change_type)
    devices = await inventory.load_devices(session, tenant_id, provider_id, request.Devices, **load)
    return judge(request.Devices, devices, rule)


def _present(value: int | None) -> list[int]:
    return [] if value is None else [value]


async def _identifier_changes(
    session: AsyncSession, tenant_id: int, request: BulkChangeRequest
) -> list[Verdict]:
    pairs = request.IdentifierChanges or []
    old_iccids, old_imeis = wanted_identifiers(pairs)
    new_iccids, new_imeis = new_identifiers(pairs)
    devices = await inventory.load_devices_by_identifiers(
        session, tenant_id, request.ServiceProviderId, iccids=old_iccids, imeis=old_imeis
    )
    used_iccids, used_imeis = await inventory.identifiers_in_use(
        session, iccids=new_iccids, imeis=new_imeis
    )
    plan_ids = {p.CustomerRatePlanId for p in pairs if p.AddCustomerRatePlan}
    plans = await inventory.catalogue_states(
        session, CustomerRatePlan, tenant_id, [i for i in plan_ids if i is not None]
    )
    ctx = IdentifierContext(
        devices=devices, used_iccids=used_iccids, used_imeis=used_imeis, customer_plans=plans
    )
    return identifier_verdicts(pairs, ctx)
