"""ChangeType 6, EditUsername: the username and the cost center, two carrier requests.

ThingSpace has no username field: the username goes into a configured custom field
(``WORKER_USERNAME_CUSTOM_FIELD``, CustomField1 by default) through ``PUT
/devices/actions/customFields``, and the cost center through ``PUT /devices/costCenter``. Both
are asynchronous, so one device change runs them one after the other: the first request's
callback confirms its step and queues the device change again with ``params["phase"]`` naming
the next (:func:`devicebulk_common.callback_effects.username_phases`), and only the last
callback ends it ``Success``. One carrier request id at a time; a refusal of either step fails
the device change with the carrier's code and message. A value that is None is left as it is
(a change with only a cost center sends only the cost-center request).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from devicebulk_common import operations as ops
from devicebulk_common.callback_effects import (
    COST_CENTER_PHASE,
    USERNAME_FIELD_PHASE,
    username_phase,
)
from devicebulk_common.carriers import CarrierAdapter
from devicebulk_common.carriers.thingspace_wire import CUSTOM_FIELD_KEYS
from devicebulk_worker.operations.registry import Job, Outcome, operation

DEFAULT_FIELD = "CustomField1"
_field = DEFAULT_FIELD


def configure(custom_field: str) -> None:
    """Which ThingSpace custom field holds the username (the worker's setting)."""
    global _field
    if custom_field not in CUSTOM_FIELD_KEYS:
        raise ValueError(f"{custom_field!r} is not one of {sorted(CUSTOM_FIELD_KEYS)}")
    _field = custom_field


def username_field() -> str:
    return _field


def _step(job: Job) -> Hashable:
    # Both values in the key: a batch shares its step and everything the steps send.
    return (username_phase(job.params), job.params.get("username"), job.params.get("cost_center"))


@operation(ops.EDIT_USERNAME, key=_step, max_devices=10_000)
async def edit_username(adapter: CarrierAdapter, jobs: Sequence[Job]) -> Outcome:
    params = jobs[0].params
    devices = [j.device for j in jobs]
    phase = username_phase(params)
    if phase == USERNAME_FIELD_PHASE:
        return await adapter.update_custom_fields(devices, {_field: params["username"]})
    if phase == COST_CENTER_PHASE:
        return await adapter.set_cost_center(devices, params["cost_center"])
    raise ValueError("edit_username needs a username or a cost center")
