"""`/_sim`: seed data, revoke or expire keys, read the call log and stats, change faults."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from jasper_sim import dates, seed
from jasper_sim.config import ConfigPatch, FaultConfig
from jasper_sim.context import Sim, get_sim
from jasper_sim.edits import apply_due
from jasper_sim.state import Account, User

router = APIRouter(prefix="/_sim", tags=["simulator admin"])


def _account(sim: Sim, account_id: str) -> Account:
    account = sim.state.accounts.get(account_id)
    if account is None:
        raise HTTPException(404, f"unknown account {account_id!r}")
    return account


def _user(sim: Sim, username: str) -> User:
    user = sim.state.users.get(username)
    if user is None:
        raise HTTPException(404, f"unknown user {username!r}")
    return user


@router.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@router.post("/accounts", status_code=201)
async def put_account(body: seed.AccountSeed, sim: Sim = Depends(get_sim)) -> dict:
    return seed.put_account(sim.state, sim.config, body).admin_view()


@router.get("/accounts")
async def list_accounts(sim: Sim = Depends(get_sim)) -> list:
    return [a.admin_view() for a in sim.state.accounts.values()]


@router.get("/accounts/{account_id}")
async def get_account(account_id: str, sim: Sim = Depends(get_sim)) -> dict:
    return _account(sim, account_id).admin_view()


@router.get("/accounts/{account_id}/faults")
async def get_faults(account_id: str, sim: Sim = Depends(get_sim)) -> dict:
    return _account(sim, account_id).faults.model_dump()


@router.put("/accounts/{account_id}/faults")
async def put_faults(account_id: str, body: FaultConfig, sim: Sim = Depends(get_sim)) -> dict:
    account = _account(sim, account_id)
    account.faults = body
    return account.faults.model_dump()


@router.post("/users", status_code=201)
async def put_user(body: seed.UserSeed, sim: Sim = Depends(get_sim)) -> dict:
    if body.accountId is None:
        raise HTTPException(422, "accountId is required")
    _account(sim, body.accountId)
    return seed.put_user(sim.state, body, body.accountId).admin_view()


@router.post("/users/{username}/revoke")
async def revoke(username: str, sim: Sim = Depends(get_sim)) -> dict:
    user = _user(sim, username)
    user.revoked = True
    return user.admin_view()


@router.post("/users/{username}/expire")
async def expire(username: str, sim: Sim = Depends(get_sim)) -> dict:
    user = _user(sim, username)
    user.expires_at = dates.utcnow()
    return user.admin_view()


@router.post("/devices", status_code=201)
async def put_devices(body: seed.DevicesSeed, sim: Sim = Depends(get_sim)) -> dict:
    _account(sim, body.accountId)
    return {
        "accountId": body.accountId,
        "devices": seed.put_devices(sim.state, body.accountId, body.devices),
    }


@router.get("/devices/{iccid}")
async def get_device(iccid: str, sim: Sim = Depends(get_sim)) -> dict:
    apply_due(sim.state, sim.config)
    device = sim.state.devices.get(iccid)
    if device is None:
        raise HTTPException(404, f"unknown device {iccid}")
    pending = [p for p in sim.state.pending if p.iccid == iccid]
    return {
        **device.details(),
        "auditTrail": [r.public() for r in device.audit],
        "pending": [{"fields": p.fields, "due": dates.answer(p.due)} for p in pending],
        "edits": sim.recorder.edits.get(iccid, 0),
    }


@router.get("/calls")
async def calls(
    endpoint: str | None = None,
    iccid: str | None = None,
    since: int = 0,
    sim: Sim = Depends(get_sim),
) -> dict:
    log = sim.recorder.calls
    items = log.since(since)
    if endpoint is not None:
        items = [c for c in items if c["endpoint"] == endpoint]
    if iccid is not None:
        items = [c for c in items if c["iccid"] == iccid]
    return {"calls": items, "next": log.next_index}


@router.get("/edits")
async def edits(iccid: str | None = None, sim: Sim = Depends(get_sim)) -> dict:
    """Edits accepted per device (`{"<iccid>": n}`): none should be there twice."""
    counts = {k: n for k, n in sim.recorder.edits.items() if iccid is None or k == iccid}
    return {"edits": counts, "max": max(counts.values(), default=0)}


@router.get("/stats")
async def stats(sim: Sim = Depends(get_sim)) -> dict:
    out = sim.recorder.stats()
    out["max_in_flight"] = {a.account_id: a.max_in_flight for a in sim.state.accounts.values()}
    return out


@router.post("/reset")
async def reset(state: bool = False, sim: Sim = Depends(get_sim)) -> dict:
    """Clear calls and stats; with `?state=true` also every account, user and device."""
    sim.reset_log()
    if state:
        sim.state.clear()
    return {"reset": "all" if state else "log"}


@router.get("/config")
async def get_config(sim: Sim = Depends(get_sim)) -> dict:
    return sim.config.model_dump()


@router.patch("/config")
async def patch_config(body: ConfigPatch, sim: Sim = Depends(get_sim)) -> dict:
    body.apply_to(sim.config)
    return sim.config.model_dump()
