"""`/_sim`: seed data, read the call log and stats, change config and faults."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from thingspace_sim import seed
from thingspace_sim.config import ConfigPatch, FaultConfig
from thingspace_sim.context import Sim, get_sim
from thingspace_sim.state import Account

router = APIRouter(prefix="/_sim", tags=["simulator admin"])


def _account(sim: Sim, name: str) -> Account:
    account = sim.state.accounts.get(name)
    if account is None:
        raise HTTPException(404, f"unknown account {name!r}")
    return account


@router.get("/health")
async def health(sim: Sim = Depends(get_sim)) -> dict:
    return {"status": "ok", "pendingCallbackTasks": sim.dispatcher.pending}


@router.post("/accounts", status_code=201)
async def put_account(body: seed.AccountSeed, sim: Sim = Depends(get_sim)) -> dict:
    return seed.put_account(sim.state, sim.config, body).admin_view()


@router.get("/accounts")
async def list_accounts(sim: Sim = Depends(get_sim)) -> list:
    return [a.admin_view() for a in sim.state.accounts.values()]


@router.get("/accounts/{account_name}")
async def get_account(account_name: str, sim: Sim = Depends(get_sim)) -> dict:
    return _account(sim, account_name).admin_view()


@router.get("/accounts/{account_name}/faults")
async def get_faults(account_name: str, sim: Sim = Depends(get_sim)) -> dict:
    return _account(sim, account_name).faults.model_dump()


@router.put("/accounts/{account_name}/faults")
async def put_faults(account_name: str, body: FaultConfig, sim: Sim = Depends(get_sim)) -> dict:
    account = _account(sim, account_name)
    account.faults = body
    return account.faults.model_dump()


@router.post("/accounts/{account_name}/unlock")
async def unlock(account_name: str, sim: Sim = Depends(get_sim)) -> dict:
    account = _account(sim, account_name)
    account.locked, account.failed_logins = False, 0
    return account.admin_view()


@router.post("/accounts/{account_name}/expire")
async def expire(
    account_name: str, tokens: bool = True, sessions: bool = True, sim: Sim = Depends(get_sim)
) -> dict:
    _account(sim, account_name)
    return {"expired": sim.state.expire_credentials(account_name, tokens, sessions)}


@router.post("/devices", status_code=201)
async def put_devices(body: seed.DevicesSeed, sim: Sim = Depends(get_sim)) -> dict:
    _account(sim, body.accountName)
    try:
        count = seed.put_devices(sim.state, body.accountName, body.devices)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    return {"accountName": body.accountName, "devices": count}


@router.get("/devices/{iccid}")
async def get_device(iccid: str, sim: Sim = Depends(get_sim)) -> dict:
    device = sim.state.devices.get(iccid)
    if device is None:
        raise HTTPException(404, f"unknown device {iccid}")
    return device.admin_view()


@router.get("/requests/{request_id}")
async def get_request(request_id: str, sim: Sim = Depends(get_sim)) -> dict:
    record = sim.state.requests.get(request_id)
    if record is None:
        raise HTTPException(404, f"unknown request {request_id}")
    return record.admin_view()


@router.get("/calls")
async def calls(path: str | None = None, since: int = 0, sim: Sim = Depends(get_sim)) -> dict:
    log = sim.recorder.calls
    items = log.since(since)
    if path is not None:
        items = [c for c in items if c["path"] == path or c["endpoint"].endswith(" " + path)]
    return {"calls": items, "next": log.next_index}


@router.get("/actions")
async def actions(
    iccid: str | None = None, action: str | None = None, sim: Sim = Depends(get_sim)
) -> dict:
    """How often each action was carried out on each device (`"activate:<iccid>": n`)."""
    counts = {
        key: n
        for key, n in sim.recorder.actions.items()
        if (action is None or key.split(":", 1)[0] == action)
        and (iccid is None or key.split(":", 1)[1] == iccid)
    }
    return {"actions": counts, "max": max(counts.values(), default=0)}


@router.get("/callbacks")
async def callbacks(
    since: int = 0, request_id: str | None = None, sim: Sim = Depends(get_sim)
) -> dict:
    log = sim.recorder.callbacks
    items = log.since(since)
    if request_id is not None:
        items = [c for c in items if c["requestId"] == request_id]
    return {"callbacks": items, "next": log.next_index}


@router.get("/stats")
async def stats(sim: Sim = Depends(get_sim)) -> dict:
    return sim.recorder.stats()


@router.post("/reset")
async def reset(state: bool = False, sim: Sim = Depends(get_sim)) -> dict:
    """Clear calls and stats; with `?state=true` also every account, device and token."""
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
