"""The device state machine: what an asynchronous action does to one device.

An action is decided when the request arrives (`plan`): the device is looked up and the
transition checked, so a refusal is known at once (and activation marks the device
`pending activation`). The transition itself takes effect when the device's callback is
produced (`apply`), so a device list read in between shows the old state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thingspace_sim.config import SimConfig
from thingspace_sim.state import (
    ACTIVE,
    DEACTIVE,
    PENDING_ACTIVATION,
    PREACTIVE,
    SUSPEND,
    Account,
    Device,
    SimState,
    utcnow,
)

FAULT_PREFIX = "UnifiedWebService.REQUEST_FAILED."

# action -> key of the success payload in the callback's deviceResponse
RESPONSE_KEYS = {
    "activate": "activateResponse",
    "suspend": "suspendResponse",
    "restore": "restoreResponse",
    "deactivate": "deactivateResponse",
    "plan": "changeServicePlanResponse",
    "deviceId": "changeIdentifierResponse",
    "customFields": "customFieldsUpdateResponse",
    "costCenter": "costCenterResponse",
    "contactInfo": "contactInfoResponse",
}
STATUS_ACTIONS = ("activate", "suspend", "restore", "deactivate")


@dataclass
class Fault:
    code: str
    message: str

    def body(self) -> dict[str, str]:
        return {"faultcode": FAULT_PREFIX + self.code, "faultstring": self.message}


@dataclass
class Job:
    """One device of one asynchronous request."""

    request_id: str
    index: int
    action: str
    account_name: str
    given_ids: list[dict[str, str]]
    device: Device | None
    params: dict[str, Any] = field(default_factory=dict)
    fault: Fault | None = None
    envelope: list[dict[str, str]] = field(default_factory=list)


def _check(config: SimConfig, state: SimState, job: Job, device: Device) -> Fault | None:
    action, now_state = job.action, device.state
    wrong = Fault("DeviceState.Invalid", f"Device is in state {now_state!r}.")
    if action == "activate":
        if now_state == ACTIVE:
            return Fault("DeviceAlreadyActive", "Device is already active.")
        return None if now_state in (PREACTIVE, DEACTIVE) else wrong
    if action == "suspend":
        return None if now_state == ACTIVE else wrong
    if action == "restore":
        return None if now_state == SUSPEND else wrong
    if action == "deactivate":
        return None if now_state in (ACTIVE, SUSPEND) else wrong
    if action == "plan":
        if now_state not in (ACTIVE, PREACTIVE):
            return wrong
        month = utcnow().strftime("%Y-%m")
        if device.plan_changes.get(month, 0) >= config.max_plan_changes_per_month:
            limit = config.max_plan_changes_per_month
            return Fault("ServicePlan.ChangeLimitExceeded", f"At most {limit} changes a month.")
        return None
    if action == "deviceId":
        if now_state != ACTIVE:
            return wrong
        return _identifier_in_use(state, device, job.params)
    if action == "contactInfo":
        return None if now_state in (ACTIVE, SUSPEND) else wrong
    return None


def _identifier_in_use(state: SimState, device: Device, params: dict[str, Any]) -> Fault | None:
    for kind in ("iccid", "imei"):
        value = params.get(kind)
        owner = state.owner_of(kind, value) if value else None
        if owner is not None and owner is not device:
            return Fault("Device.Identifier.InUse", f"{kind} {value} belongs to another device.")
    return None


def plan(
    config: SimConfig,
    state: SimState,
    account: Account,
    request_id: str,
    index: int,
    action: str,
    ids: list[dict[str, str]],
    params: dict[str, Any],
) -> Job:
    """Decide one device's outcome now and reserve what the decision needs."""
    device = state.find_device(ids)
    job = Job(request_id, index, action, account.name, ids, None, params)
    if device is None or device.account_name != account.name:
        job.fault = Fault("DeviceNotFound", "Device not found in the account.")
        job.envelope = [{"id": i["id"], "kind": i["kind"].capitalize()} for i in ids]
        return job
    job.device = device
    job.envelope = device.envelope_ids()
    job.fault = _check(config, state, job, device)
    if job.fault is None:
        if action == "activate":
            device.state = PENDING_ACTIVATION
        elif action == "plan":
            month = utcnow().strftime("%Y-%m")
            device.plan_changes[month] = device.plan_changes.get(month, 0) + 1
    return job


def apply(state: SimState, job: Job) -> dict[str, Any] | None:
    """Make the transition happen; the success payload, or None if the job failed."""
    if job.fault is not None:
        return None
    device = job.device
    if device is None or not state.holds(device):
        job.fault = Fault("DeviceNotFound", "Device no longer exists.")
        return None
    if job.action == "deviceId":
        fault = _identifier_in_use(state, device, job.params)
        if fault is not None:
            job.fault = fault
            return None
    return _EFFECTS[job.action](state, device, job.params)


def _activate(state: SimState, device: Device, params: dict[str, Any]) -> dict[str, Any]:
    device.state = ACTIVE
    device.service_plan = params["servicePlan"]
    device.last_activation_date = utcnow()
    device.custom_fields.update(params.get("customFields") or {})
    if params.get("costCenterCode"):
        device.cost_center = params["costCenterCode"]
    if params.get("primaryPlaceOfUse"):
        device.place_of_use = params["primaryPlaceOfUse"]
    state.assign_mdn(device)
    return {"deviceIds": device.ids()}


def _state_to(new_state: str):
    def effect(state: SimState, device: Device, params: dict[str, Any]) -> dict[str, Any]:
        device.state = new_state
        if new_state == DEACTIVE:
            device.connected = False
            if params.get("deleteAfterDeactivation"):
                state.remove_device(device.iccid)
        return {"deviceIds": device.ids(), "state": new_state}

    return effect


def _plan(state: SimState, device: Device, params: dict[str, Any]) -> dict[str, Any]:
    device.service_plan = params["servicePlan"]
    return {"deviceIds": device.ids(), "servicePlan": device.service_plan}


def _device_id(state: SimState, device: Device, params: dict[str, Any]) -> dict[str, Any]:
    state.change_ids(device, params.get("iccid"), params.get("imei"))
    if params.get("servicePlan"):
        device.service_plan = params["servicePlan"]
    return {"deviceIds": device.ids()}


def _custom_fields(state: SimState, device: Device, params: dict[str, Any]) -> dict[str, Any]:
    device.custom_fields.update(params["customFields"])
    fields = [{"key": k, "value": v} for k, v in sorted(device.custom_fields.items())]
    return {"deviceIds": device.ids(), "customFields": fields}


def _cost_center(state: SimState, device: Device, params: dict[str, Any]) -> dict[str, Any]:
    device.cost_center = params.get("costCenter")
    return {"deviceIds": device.ids(), "costCenterCode": device.cost_center}


def _contact_info(state: SimState, device: Device, params: dict[str, Any]) -> dict[str, Any]:
    device.place_of_use = params["primaryPlaceOfUse"]
    return {"deviceIds": device.ids(), "primaryPlaceOfUse": device.place_of_use}


_EFFECTS = {
    "activate": _activate,
    "suspend": _state_to(SUSPEND),
    "restore": _state_to(ACTIVE),
    "deactivate": _state_to(DEACTIVE),
    "plan": _plan,
    "deviceId": _device_id,
    "customFields": _custom_fields,
    "costCenter": _cost_center,
    "contactInfo": _contact_info,
}
