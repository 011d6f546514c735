"""ChangeType 7, CarrierRatePlanChange: the carrier's service plan (ThingSpace ``PUT
/devices/actions/plan``), one request for every device going from the same plan to the same
plan. Asynchronous: the callback sets ``device.carrier_rate_plan``
(:mod:`devicebulk_common.callback_effects`).

Intake refuses a suspended device and one that already changed plan 4 times this month before
anything reaches the carrier; the carrier enforces the same rules and its refusal (code and
message) comes back in the device's callback.

``current_service_plan`` is not sent: ThingSpace reads ``currentServicePlan`` as a filter ("only
include devices that have that service plan"), and our record of a device's plan can be stale;
a device the carrier filtered out would get no callback at all. So devices going to the same
plan share one request whatever plan they come from.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from devicebulk_common import operations as ops
from devicebulk_common.carriers import CarrierAdapter
from devicebulk_worker.operations.registry import Job, Outcome, operation


def _target_plan(job: Job) -> Hashable:
    return job.params.get("service_plan")


@operation(ops.CHANGE_PLAN, key=_target_plan, max_devices=10_000)
async def change_plan(adapter: CarrierAdapter, jobs: Sequence[Job]) -> Outcome:
    return await adapter.change_service_plan(
        [j.device for j in jobs], service_plan=jobs[0].params["service_plan"]
    )
