"""HTTP Basic with a user name and its API key: the check every API call makes."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Depends, Request

from jasper_sim import dates
from jasper_sim.calllog import CallInfo
from jasper_sim.context import Sim, call_info, get_sim
from jasper_sim.edits import apply_due
from jasper_sim.errors import SimError, jasper_error
from jasper_sim.state import Account, User

REALM = 'Basic realm="Jasper"'


@dataclass
class ApiContext:
    sim: Sim
    account: Account
    user: User
    info: CallInfo
    ip: str


def _refused() -> SimError:
    return jasper_error("10000001", "Invalid credentials")


def check_basic(sim: Sim, request: Request, info: CallInfo) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise SimError(401, {"errorMessage": "Unauthorized"}, headers={"WWW-Authenticate": REALM})
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _refused() from exc
    username, sep, api_key = decoded.partition(":")
    info.user = username or None
    user = sim.state.users.get(username)
    if (
        not sep
        or user is None
        or not hmac.compare_digest(api_key.encode(), user.api_key.encode())
        or not user.usable(dates.utcnow())
    ):
        raise _refused()
    return user


async def api_context(request: Request, sim: Sim = Depends(get_sim)) -> AsyncIterator[ApiContext]:
    """Credentials checked, due edits applied, the account's faults held around the call."""
    info = call_info(request)
    user = check_basic(sim, request, info)
    account = sim.state.accounts[user.account_id]
    info.account = account.account_id
    apply_due(sim.state, sim.config)
    ip = request.client.host if request.client else ""
    async with sim.faults.gate(account, info):
        yield ApiContext(sim, account, user, info, ip)
