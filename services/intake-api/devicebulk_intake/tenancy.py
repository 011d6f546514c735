"""Who is calling, as the routes declare it: a :class:`~devicebulk_intake.auth.Caller` holding
the scope the operation needs (a bearer token's, or in development mode the headers').

Every read and action filters by ``caller.tenant``: another tenant's objects answer 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import Security

from devicebulk_intake.auth.caller import OPERATE, READ, WRITE, Caller, authenticate

ReadCaller = Annotated[Caller, Security(authenticate, scopes=[READ])]
WriteCaller = Annotated[Caller, Security(authenticate, scopes=[WRITE])]
OperateCaller = Annotated[Caller, Security(authenticate, scopes=[OPERATE])]

__all__ = ["Caller", "OperateCaller", "ReadCaller", "WriteCaller"]
