"""Asynchronous device actions: answer `{"requestId"}` at once, one callback per device."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request

from thingspace_sim import machine, validation
from thingspace_sim.auth import M2MContext, m2m_context
from thingspace_sim.errors import account_not_found, invalid
from thingspace_sim.state import Account, RequestRecord

router = APIRouter(prefix="/m2m/v1")

CHANGE_4G_OPTIONS = {
    "ChangeICCID": ("iccid",),
    "ChangeIMEI": ("imei",),
    "ChangeIMEIandICCID": ("iccid", "imei"),
}
PLACE_ADDRESS_KEYS = ("addressLine1", "city", "state", "zip", "country")
PLACE_NAME_KEYS = ("firstName", "lastName")


def resolve_account(ctx: M2MContext, name: Any, required: bool = False) -> Account:
    """The session's account; a named account must be it (else AccountNotFound)."""
    if name is None:
        if required:
            raise invalid("AccountName.Missing", "accountName is required.")
        return ctx.account
    if name != ctx.account.name:
        raise account_not_found(name)
    return ctx.account


async def submit(
    ctx: M2MContext,
    account: Account,
    action: str,
    devices: list[list[dict[str, str]]],
    params: dict[str, Any],
) -> dict[str, str]:
    """Decide every device now, answer the request id, deliver the outcomes as callbacks."""
    sim = ctx.sim
    ctx.info.devices = len(devices)
    request_id = str(uuid.uuid4())
    jobs = [
        machine.plan(sim.config, sim.state, account, request_id, n, action, ids, params)
        for n, ids in enumerate(devices)
    ]
    for job in jobs:
        if job.fault is None and job.device is not None:
            sim.recorder.count_action(action, job.device.iccid)
    sim.state.requests[request_id] = RequestRecord(
        request_id, account.name, action, ["Pending"] * len(jobs)
    )
    task = sim.dispatcher.submit(jobs, account.faults)
    if account.faults.callback_before_answer:
        await asyncio.shield(task)
    await sim.faults.lose_answer(account.faults, ctx.info)
    return {"requestId": request_id}


def _devices(ctx: M2MContext, body: dict[str, Any], key: str = "devices") -> list:
    return validation.devices(body, key, ctx.sim.config.max_devices_per_request)


def _place_of_use(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    address = raw.get("address") if isinstance(raw, dict) else None
    name = raw.get("customerName") if isinstance(raw, dict) else None
    if not isinstance(address, dict) or not isinstance(name, dict):
        raise invalid("PrimaryPlaceOfUse.Invalid", "address and customerName are required.")
    missing = [k for k in PLACE_ADDRESS_KEYS if not address.get(k)]
    missing += [k for k in PLACE_NAME_KEYS if not name.get(k)]
    if missing:
        raise invalid("PrimaryPlaceOfUse.Invalid", f"Missing: {', '.join(missing)}.")
    return {"address": dict(address), "customerName": dict(name)}


@router.post("/devices/actions/activate")
async def activate(request: Request, ctx: M2MContext = Depends(m2m_context)) -> dict:
    body = await validation.read_json(request)
    account = resolve_account(ctx, body.get("accountName"))
    devices = _devices(ctx, body)
    params = {
        "servicePlan": validation.required_str(body, "servicePlan"),
        "mdnZipCode": validation.required_str(body, "mdnZipCode"),
        "customFields": validation.custom_fields(body.get("customFields")),
    }
    if body.get("costCenterCode") is not None:
        params["costCenterCode"] = validation.cost_center(body["costCenterCode"])
    place = _place_of_use(body.get("primaryPlaceOfUse"))
    if place is not None:
        params["primaryPlaceOfUse"] = place
    return await submit(ctx, account, "activate", devices, params)


@router.put("/devices/actions/contactInfo")
async def update_contact_info(request: Request, ctx: M2MContext = Depends(m2m_context)) -> dict:
    """Replace the devices' primary place of use (Verizon's "Update Devices Contact
    Information"; not in our API notes, so its details are our best reading)."""
    body = await validation.read_json(request)
    account = resolve_account(ctx, body.get("accountName"))
    devices = _devices(ctx, body)
    place = _place_of_use(body.get("primaryPlaceOfUse"))
    if place is None:
        raise invalid("PrimaryPlaceOfUse.Missing", "primaryPlaceOfUse is required.")
    return await submit(ctx, account, "contactInfo", devices, {"primaryPlaceOfUse": place})


@router.post("/devices/actions/suspend")
async def suspend(request: Request, ctx: M2MContext = Depends(m2m_context)) -> dict:
    body = await validation.read_json(request)
    account = resolve_account(ctx, body.get("accountName"))
    with_billing = body.get("withBilling")
    if with_billing is not None and not isinstance(with_billing, bool):
        raise invalid("WithBilling.Invalid", "withBilling must be true or false.")
    params = {} if with_billing is None else {"withBilling": with_billing}
    return await submit(ctx, account, "suspend", _devices(ctx, body), params)


@router.post("/devices/actions/restore")
async def restore(request: Request, ctx: M2MContext = Depends(m2m_context)) -> dict:
    body = await validation.read_json(request)
    account = resolve_account(ctx, body.get("accountName"))
    return await submit(ctx, account, "restore", _devices(ctx, body), {})


@router.post("/devices/actions/deactivate")
async def deactivate(request: Request, ctx: M2MContext = Depends(m2m_context)) -> dict:
    body = await validation.read_json(request)
    account = resolve_account(ctx, body.get("accountName"), required=True)
    devices = _devices(ctx, body)
    validation.required_str(body, "reasonCode")
    params = {"deleteAfterDeactivation": bool(body.get("deleteAfterDeactivation"))}
    return await submit(ctx, account, "deactivate", devices, params)


@router.put("/devices/actions/plan")
async def change_plan(request: Request, ctx: M2MContext = Depends(m2m_context)) -> dict:
    body = await validation.read_json(request)
    account = resolve_account(ctx, body.get("accountName"))
    devices = _devices(ctx, body)
    params = {"servicePlan": validation.required_str(body, "servicePlan")}
    return await submit(ctx, account, "plan", devices, params)


@router.put("/devices/{service_type}/actions/deviceId")
async def change_identifier(
    service_type: str, request: Request, ctx: M2MContext = Depends(m2m_context)
) -> dict:
    body = await validation.read_json(request)
    account = resolve_account(ctx, body.get("accountName"))
    current = validation.device_ids(body.get("deviceIds"))
    target = validation.device_ids(body.get("deviceIdsTo"))
    option = body.get("change4gOption")
    if option not in CHANGE_4G_OPTIONS:
        raise invalid(
            "Change4gOption.Invalid", f"change4gOption must be one of {sorted(CHANGE_4G_OPTIONS)}."
        )
    params: dict[str, Any] = {"serviceType": service_type, "change4gOption": option}
    for kind in CHANGE_4G_OPTIONS[option]:
        value = next((i["id"] for i in target if i["kind"] == kind), None)
        if value is None:
            raise invalid("Device.Identifier.Invalid", f"{option} needs a new {kind}.")
        params[kind] = value
    if body.get("servicePlan") is not None:
        params["servicePlan"] = validation.required_str(body, "servicePlan")
    return await submit(ctx, account, "deviceId", [current], params)


@router.put("/devices/actions/customFields")
async def update_custom_fields(request: Request, ctx: M2MContext = Depends(m2m_context)) -> dict:
    body = await validation.read_json(request)
    account = resolve_account(ctx, body.get("accountName"))
    devices = _devices(ctx, body)
    fields = validation.custom_fields(body.get("customFieldsToUpdate"), "customFieldsToUpdate")
    if not fields:
        raise invalid("CustomFieldsToUpdate.Missing", "customFieldsToUpdate is required.")
    return await submit(ctx, account, "customFields", devices, {"customFields": fields})


@router.put("/devices/costCenter")
async def update_cost_center(request: Request, ctx: M2MContext = Depends(m2m_context)) -> dict:
    body = await validation.read_json(request)
    account = resolve_account(ctx, body.get("accountName"))
    devices = _devices(ctx, body)
    if body.get("removeCostCenter") is True:
        params: dict[str, Any] = {"costCenter": None}
    elif body.get("costCenter") is not None:
        params = {"costCenter": validation.cost_center(body["costCenter"])}
    else:
        raise invalid("CostCenter.Missing", "costCenter or removeCostCenter is required.")
    return await submit(ctx, account, "costCenter", devices, params)
