"""Recording a carrier outcome must not be lost to a passing database fault: the call already
happened. Retry the recording transaction a few times before giving up (the message is then
redelivered, and the resume check asks the carrier before anything is sent again)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = structlog.get_logger(__name__)

RETRYABLE = (OperationalError, DBAPIError, PoolTimeout, ConnectionError, OSError)
# A bug or a constraint, not a passing fault: trying again changes nothing.
NEVER = (IntegrityError, DataError, ProgrammingError)

T = TypeVar("T")


async def durably(
    write: Callable[[], Awaitable[T]], *, attempts: int = 6, first_delay_s: float = 0.2
) -> T:
    delay = first_delay_s
    for attempt in range(1, attempts + 1):
        try:
            return await write()
        except NEVER:
            raise
        except RETRYABLE as exc:
            if attempt == attempts:
                raise
            log.warning("recording the outcome failed; retrying", attempt=attempt, error=str(exc))
            await asyncio.sleep(delay * (1 + random.random()))
            delay *= 2
    raise AssertionError("unreachable")
