"""OAuth access tokens, M2M sessions, and the two-header check every m2m call makes."""

from __future__ import annotations

import base64
import binascii
import hmac
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request

from thingspace_sim.calllog import CallInfo
from thingspace_sim.context import Sim, call_info, get_sim
from thingspace_sim.errors import failed, gateway_fault, invalid, oauth_error
from thingspace_sim.state import AccessToken, Account, Session
from thingspace_sim.validation import read_json

router = APIRouter()
SCOPE = "discovery:read serviceprofile:read serviceprofile:write m2m"


@dataclass
class M2MContext:
    sim: Sim
    account: Account
    session: Session
    info: CallInfo


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _basic_credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise oauth_error(401, "invalid_client", "Basic client credentials are required.")
    try:
        key, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise oauth_error(400, "invalid_request", "Malformed Basic credentials.") from exc
    if not sep:
        raise oauth_error(400, "invalid_request", "Malformed Basic credentials.")
    return key, secret


@router.post("/ts/v1/oauth2/token")
async def issue_token(request: Request, sim: Sim = Depends(get_sim)) -> dict:
    info = call_info(request)
    key, secret = _basic_credentials(request)
    account = sim.state.account_by_client_key(key)
    if account is not None:
        info.account = account.name
        await sim.faults.latency(account.faults)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    if form.get("grant_type") != ["client_credentials"]:
        raise oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials.")
    if account is None or not _same(secret, account.client_secret):
        raise oauth_error(401, "invalid_client", "Client authentication failed.")
    now, ttl = time.monotonic(), account.faults.token_ttl_s
    token = sim.state.tokens.get(sim.state.token_by_client.get(key, ""))
    if token is None or not token.valid(now, ttl):
        lifetime = min(ttl or sim.config.token_lifetime_s, sim.config.token_lifetime_s)
        token = AccessToken(str(uuid.uuid4()), key, account.name, lifetime, now)
        sim.state.prune(now)
        sim.state.tokens[token.value] = token
        sim.state.token_by_client[key] = token.value
    info.access_token = token.value
    return {
        "access_token": token.value,
        "token_type": "bearer",
        "expires_in": max(0, int(token.expires_at(ttl) - now)),
        "scope": SCOPE,
    }


def check_access_token(sim: Sim, request: Request, info: CallInfo) -> AccessToken:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise gateway_fault(
            "900902",
            "Missing Credentials",
            "Required authentication information is not provided.",
        )
    value = value.strip()
    info.access_token = value
    token = sim.state.tokens.get(value)
    account = sim.state.accounts.get(token.account_name) if token else None
    ttl = account.faults.token_ttl_s if account else None
    if token is None or not token.valid(time.monotonic(), ttl):
        raise gateway_fault(
            "900901",
            "Invalid Credentials",
            "Access failure for API: /m2m, version: v1. "
            "Make sure your have given the correct access token.",
        )
    return token


def check_session(sim: Sim, request: Request, info: CallInfo) -> Session:
    value = request.headers.get("vz-m2m-token")
    if not value:
        raise failed("SessionToken.Format", "The VZ-M2M-Token header is missing.")
    try:
        uuid.UUID(value)
    except ValueError as exc:
        raise invalid("SessionToken.Invalid", "The session token is not valid.") from exc
    info.session_token = value
    session = sim.state.sessions.get(value)
    now = time.monotonic()
    account = sim.state.accounts.get(session.account_name) if session else None
    idle = account.faults.session_ttl_s if account else None
    if session is None or not session.valid(now, idle):
        sim.state.sessions.pop(value, None)
        if account is not None and account.faults.forget_sessions:
            raise invalid("SessionToken.Invalid", "The session token is not valid.")
        raise failed("SessionToken.Expired", "The session token has expired.")
    session.touch(now)
    return session


async def m2m_context(request: Request, sim: Sim = Depends(get_sim)) -> M2MContext:
    """Both headers checked, the account's faults applied: the start of every m2m call."""
    info = call_info(request)
    check_access_token(sim, request, info)
    session = check_session(sim, request, info)
    account = sim.state.accounts.get(session.account_name)
    if account is None:
        sim.state.sessions.pop(session.value, None)
        raise failed("SessionToken.Expired", "The session token has expired.")
    info.account = account.name
    await sim.faults.gate(account.name, account.faults, info)
    return M2MContext(sim, account, session, info)


@router.post("/m2m/v1/session/login")
async def login(request: Request, sim: Sim = Depends(get_sim)) -> dict:
    info = call_info(request)
    token = check_access_token(sim, request, info)
    body = await read_json(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise invalid("Login.Invalid", "username and password are required.")
    account = sim.state.account_by_username(username) or sim.state.accounts.get(token.account_name)
    if account is not None:
        info.account = account.name
        await sim.faults.gate(account.name, account.faults, info)
    if account is None or account.username != username:
        raise failed("Login.Invalid", "Invalid username or password.")
    if account.locked:
        raise failed("User.Locked", "The user is locked after too many failed logins.")
    if not _same(password, account.password):
        account.failed_logins += 1
        if account.failed_logins >= sim.config.max_failed_logins:
            account.locked = True
        raise failed("Login.Invalid", "Invalid username or password.")
    account.failed_logins = 0
    now = time.monotonic()
    idle = sim.config.session_idle_s
    session = Session(str(uuid.uuid4()), account.name, username, idle, now, token.value)
    sim.state.sessions[session.value] = session
    info.session_token = session.value
    return {"sessionToken": session.value}


@router.post("/m2m/v1/session/logout")
async def logout(ctx: M2MContext = Depends(m2m_context)) -> dict:
    ctx.sim.state.sessions.pop(ctx.session.value, None)
    return {"sessionToken": ctx.session.value}
