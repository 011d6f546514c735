"""`/rws/api/v1/devices...`: Edit and Get Device Details, Search Devices, the audit trail."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response

from jasper_sim import dates, edits
from jasper_sim.auth import ApiContext, api_context
from jasper_sim.errors import jasper_error
from jasper_sim.state import Device, PendingEdit

router = APIRouter()


def _device(ctx: ApiContext, iccid: str) -> Device:
    ctx.info.iccid = iccid
    device = ctx.sim.state.devices.get(iccid)
    if device is None or device.account_id != ctx.account.account_id:
        raise jasper_error("20000001", f"Resource not found: ICCID {iccid}.")
    return device


def _int(raw: str | None, name: str, default: int, low: int, high: int, code: str) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise jasper_error(code, f"{name} must be a number.") from exc
    if not low <= value <= high:
        raise jasper_error(code, f"{name} must be between {low} and {high}.")
    return value


def _page(request: Request, ctx: ApiContext) -> tuple[int, int]:
    query = request.query_params
    # The code for a bad page size or number is not documented: 10000007 (UNCONFIRMED).
    size = _int(query.get("pageSize"), "pageSize", 50, 1, ctx.sim.config.max_page_size, "10000007")
    number = _int(query.get("pageNumber"), "pageNumber", 1, 1, 10**9, "10000007")
    return size, number


@router.put("/devices/{iccid}")
async def edit_device(
    iccid: str, request: Request, response: Response, ctx: ApiContext = Depends(api_context)
) -> dict:
    sim = ctx.sim
    device = _device(ctx, iccid)
    edit = edits.read_edit(edits.parse_body(await request.body()), ctx.account, sim.config)
    changed = edits.changes(device, edit, sim.config)
    faults = ctx.account.faults
    now = dates.utcnow()
    due = edit.effective or (now + timedelta(seconds=faults.late_apply_s))
    if changed:
        sim.recorder.count_edit(iccid)
        rows = edits.audit_rows(sim.state, device, changed, due, ctx.user.username, ctx.ip)
        if due > now:
            sim.state.pending.append(PendingEdit(iccid, changed, due, rows))
        else:
            edits.apply(device, changed, rows, now)
    if edit.effective is not None:
        response.status_code = sim.config.dated_edit_status
    elif faults.accepted_rate and sim.rng.random() < faults.accepted_rate:
        response.status_code = 202
        ctx.info.fault = "accepted_202"
    return {"iccid": iccid}


@router.get("/devices/{iccid}")
async def get_device(iccid: str, request: Request, ctx: ApiContext = Depends(api_context)) -> dict:
    details = _device(ctx, iccid).details()
    wanted = request.query_params.get("fields")
    if wanted:
        names = {name.strip() for name in wanted.split(",")}
        details = {k: v for k, v in details.items() if k in names or k == "iccid"}
    return details


@router.get("/devices")
async def search_devices(request: Request, ctx: ApiContext = Depends(api_context)) -> dict:
    query = request.query_params
    raw_since = query.get("modifiedSince")
    if not raw_since:
        raise jasper_error("10000003", "modifiedSince is required.")
    try:
        since = dates.parse(raw_since)
        till = dates.parse(query["modifiedTill"]) if query.get("modifiedTill") else None
    except ValueError as exc:
        raise jasper_error("10000012", "Invalid date.") from exc
    size, number = _page(request, ctx)
    account_id = query.get("accountId") or ctx.account.account_id
    if account_id != ctx.account.account_id:
        raise jasper_error("10000030", "Access denied to this account.")
    status = query.get("status")
    found = [
        d
        for d in ctx.sim.state.devices_of(account_id)
        if d.date_updated >= since
        and (till is None or d.date_updated <= till)
        and (status is None or d.status == status)
        and all(d.get(k) == v for k, v in query.items() if k in edits.EDITABLE and k != "status")
    ]
    found.sort(key=lambda d: (d.date_updated, d.iccid))
    start = (number - 1) * size
    page = found[start : start + size]
    return {
        "pageNumber": number,
        "devices": [d.search_entry() for d in page],
        "lastPage": start + size >= len(found),
    }


@router.get("/devices/{iccid}/auditTrails")
async def audit_trail(iccid: str, request: Request, ctx: ApiContext = Depends(api_context)) -> dict:
    device = _device(ctx, iccid)
    days = _int(
        request.query_params.get("daysOfHistory"),
        "daysOfHistory",
        30,
        1,
        ctx.sim.config.max_days_of_history,
        "10000049",
    )
    size, number = _page(request, ctx)
    since = dates.utcnow() - timedelta(days=days)
    rows = sorted(
        (r for r in device.audit if r.effective_date >= since or r.status == "Pending"),
        key=lambda r: r.sequence,
        reverse=True,  # newest first
    )
    start = (number - 1) * size
    return {
        "iccid": iccid,
        "pageNumber": number,
        "deviceAuditTrails": [r.public() for r in rows[start : start + size]],
        "lastPage": start + size >= len(rows),
    }
