"""Synchronous m2m calls: add, delete, device list, request status, callback listeners."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from thingspace_sim import validation
from thingspace_sim.actions import resolve_account
from thingspace_sim.auth import M2MContext, m2m_context
from thingspace_sim.errors import failed, invalid
from thingspace_sim.machine import STATUS_ACTIONS
from thingspace_sim.state import DEACTIVE, PREACTIVE, CallbackRegistration, Device

router = APIRouter(prefix="/m2m/v1")


def _sort_key(iccid: str) -> tuple[int, str]:
    return (len(iccid), iccid)


@router.post("/devices/actions/add")
async def add_devices(request: Request, ctx: M2MContext = Depends(m2m_context)) -> list:
    body = await validation.read_json(request)
    account = resolve_account(ctx, body.get("accountName"))
    devices = validation.devices(body, "devicesToAdd", ctx.sim.config.max_devices_per_request)
    if body.get("state") != PREACTIVE:
        raise invalid("State.Invalid", "state must be 'preactive'.")
    ctx.info.devices = len(devices)
    state = ctx.sim.state
    answer: list[dict[str, Any]] = []
    for ids in devices:
        iccid = next((i["id"] for i in ids if i["kind"] == "iccid"), None)
        imei = next((i["id"] for i in ids if i["kind"] == "imei"), None)
        outcome: dict[str, Any] = {"deviceIds": ids}
        if iccid is None:
            outcome.update(response="Failed", message="An ICCID is required.")
        elif state.find_device([i for i in ids if i["kind"] in ("iccid", "imei")]):
            outcome.update(response="Failed", message="Device already exists.")
        else:
            state.put_device(
                Device(iccid=iccid, imei=imei, account_name=account.name, state=PREACTIVE)
            )
            outcome.update(response="Success", message="Device added.")
        answer.append(outcome)
    return answer


@router.post("/devices/actions/delete")
async def delete_devices(request: Request, ctx: M2MContext = Depends(m2m_context)) -> list:
    body = await validation.read_json(request)
    account = resolve_account(ctx, body.get("accountName"))
    devices = validation.devices(body, "devicesToDelete", ctx.sim.config.max_devices_per_delete)
    ctx.info.devices = len(devices)
    state = ctx.sim.state
    answer: list[dict[str, Any]] = []
    for ids in devices:
        device = state.find_device(ids)
        outcome: dict[str, Any] = {"deviceIds": ids}
        if device is None or device.account_name != account.name:
            outcome.update(status="Failed", message="Device not found.")
        elif device.state != DEACTIVE:
            outcome.update(status="Failed", message=f"Device is in state {device.state!r}.")
        else:
            state.remove_device(device.iccid)
            outcome.update(status="Success", message="Device deleted.")
        answer.append(outcome)
    return answer


@router.post("/devices/actions/list")
async def list_devices(request: Request, ctx: M2MContext = Depends(m2m_context)) -> dict:
    body = await validation.read_json(request)
    account = resolve_account(ctx, body.get("accountName"))
    found = ctx.sim.state.devices_of(account.name)
    if body.get("deviceId") is not None:
        wanted = ctx.sim.state.find_device([validation.device_id(body["deviceId"])])
        found = [d for d in found if d is wanted]
    current = body.get("currentState")
    if current is not None:
        if not isinstance(current, str):
            raise invalid("CurrentState.Invalid", "currentState must be a string.")
        found = [d for d in found if d.state.lower() == current.strip().lower()]
    seen = body.get("largestDeviceIdSeen")
    if seen is not None:
        seen_id = validation.device_id(seen)["id"] if isinstance(seen, dict) else str(seen)
        found = [d for d in found if _sort_key(d.iccid) > _sort_key(seen_id)]
    size = ctx.sim.config.page_size
    page = found[:size]
    ctx.info.devices = len(page)
    return {"hasMoreData": len(found) > size, "devices": [d.listing() for d in page]}


@router.get("/accounts/{account_name}/requests/{request_id}/status")
async def request_status(
    account_name: str, request_id: str, ctx: M2MContext = Depends(m2m_context)
) -> dict:
    account = resolve_account(ctx, account_name)
    record = ctx.sim.state.requests.get(request_id)
    if record is None or record.account_name != account.name:
        raise failed("RequestNotFound", f"Request {request_id} was not found.")
    if record.action not in STATUS_ACTIONS or len(record.statuses) != 1:
        raise invalid(
            "RequestId.Invalid",
            "Status is available for single-device activate, deactivate, suspend, restore.",
        )
    ctx.info.devices = 1
    return {"requestId": request_id, "status": record.overall()}


@router.post("/callbacks/{account_name}")
async def register_callback(
    account_name: str, request: Request, ctx: M2MContext = Depends(m2m_context)
) -> dict:
    account = resolve_account(ctx, account_name)
    body = await validation.read_json(request)
    name = validation.required_str(body, "name")
    url = validation.required_str(body, "url")
    if not url.startswith(("http://", "https://")):
        raise invalid("Url.Invalid", "url must be an http(s) URL.")
    account.callbacks[name] = CallbackRegistration(
        name=name,
        url=url,
        username=validation.optional_str(body, "username"),
        password=validation.optional_str(body, "password"),
    )
    return {"accountName": account.name, "name": name}


@router.get("/callbacks/{account_name}")
async def list_callbacks(account_name: str, ctx: M2MContext = Depends(m2m_context)) -> list:
    account = resolve_account(ctx, account_name)
    return [reg.public(account.name) for reg in account.callbacks.values()]


@router.delete("/callbacks/{account_name}/name/{service_name}")
async def delete_callback(
    account_name: str, service_name: str, ctx: M2MContext = Depends(m2m_context)
) -> dict:
    account = resolve_account(ctx, account_name)
    if account.callbacks.pop(service_name, None) is None:
        raise failed("CallbackNotFound", f"No callback named {service_name!r}.")
    return {"accountName": account.name, "name": service_name}
