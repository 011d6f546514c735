"""Transient carrier failures are retried with exponential backoff and jitter through the
delay queues; past the last attempt the device change fails with the last reason and its
message is dead-lettered. Both go out through the outbox, so they exist iff the state that
explains them committed.

Throttling and authentication trouble use up no attempt: the device waits for budget or a
new session. An attempt whose request may have reached the carrier (``outcome_unknown``)
marks its device change with ``params[ASK_FIRST]``; the mark stays whatever error comes
next (a 429, a 900901), so the next attempt checks the carrier's device list before it sends
anything again."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, func, literal
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import callback_matching
from devicebulk_common import contracts as c
from devicebulk_common.carriers import AuthExpiredError, CarrierError, ThrottledError
from devicebulk_common.models import DeviceChange, OutboxMessage
from devicebulk_common.outbox.relay import notify_outbox

# The device change's params key saying: the last request may have been carried out (or the
# carrier said it was: DeviceAlreadyActive). The kit's, which the callbacks set and read too.
ASK_FIRST = callback_matching.ASK_FIRST


def asks_first(params: dict[str, Any] | None) -> bool:
    return bool((params or {}).get(ASK_FIRST))


def settled_params() -> Any:
    """``params`` without the ask-first mark: a check of the carrier's device list settled
    what the last attempt did, so the next attempt needs no list request of its own."""
    return DeviceChange.params.op("-")(literal(ASK_FIRST))


# An authentication error that survived the adapter's fresh login and retry spends no attempt;
# after this many such rounds the device change fails with it (a credential or session the
# carrier keeps refusing is not retried without end). Counted in params[AUTH_ROUNDS].
MAX_AUTH_ROUNDS = 3
AUTH_ROUNDS = "auth_rounds"


def auth_rounds(params: dict[str, Any] | None) -> int:
    value = (params or {}).get(AUTH_ROUNDS, 0)
    return value if isinstance(value, int) else 0


def retry_values(exc: CarrierError) -> dict[str, Any]:
    """The columns a retry after `exc` writes: its reason; the ask-first mark when the
    request may have reached the carrier; one more authentication round after an
    authentication error; the attempt given back when it did not count."""
    values: dict[str, Any] = {
        "error_code": exc.code or type(exc).__name__,
        "error_message": exc.message,
    }
    params: Any = func.coalesce(DeviceChange.params, literal({}, JSONB))
    if exc.outcome_unknown:
        params = params.op("||")(literal({ASK_FIRST: True}, JSONB))
    if isinstance(exc, AuthExpiredError):
        rounds = func.coalesce(DeviceChange.params[AUTH_ROUNDS].astext.cast(Integer), 0) + 1
        params = params.op("||")(func.jsonb_build_object(AUTH_ROUNDS, rounds))
    if exc.outcome_unknown or isinstance(exc, AuthExpiredError):
        values["params"] = params
    if not exc.counts_attempt:
        values["attempts"] = DeviceChange.attempts - 1
    return values


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 2.0
    max_delay_s: float = 300.0
    jitter: float = 0.25

    def should_retry(
        self, exc: CarrierError, attempt: int, params: dict[str, Any] | None = None
    ) -> bool:
        """Throttling and authentication trouble never use up the attempts; an authentication
        error gives up after MAX_AUTH_ROUNDS rounds (``params`` counts them)."""
        if isinstance(exc, AuthExpiredError) and auth_rounds(params) + 1 >= MAX_AUTH_ROUNDS:
            return False
        return exc.retryable and (not exc.counts_attempt or attempt < self.max_attempts)

    def delay_s(self, exc: CarrierError, attempt: int) -> float:
        """base x 4^(attempt-1), capped, +/- jitter; never sooner than the carrier's Retry-After."""
        delay = min(self.base_delay_s * 4 ** (attempt - 1), self.max_delay_s)
        delay *= 1 + random.uniform(-self.jitter, self.jitter)
        if isinstance(exc, ThrottledError) and exc.retry_after:
            delay = max(delay, exc.retry_after)
        return delay


# Upper bounds (seconds) of the delays each tier's queue holds: messages of similar delay wait
# together, so a short delay never queues behind a long one for long.
TIER_BOUNDS_S = (10.0, 60.0, 600.0)


def tier_for(delay_s: float) -> str:
    for tier, bound in zip(c.RETRY_TIERS, TIER_BOUNDS_S, strict=False):
        if delay_s <= bound:
            return tier
    return c.RETRY_TIERS[-1]


async def schedule_retry(
    session: AsyncSession, message: c.DeviceChangeMessage, *, delay_s: float
) -> None:
    session.add(
        OutboxMessage(
            exchange=c.EXCHANGE_RETRY,
            routing_key=tier_for(delay_s),
            body=message.model_dump(mode="json"),
            expiration_ms=max(1, int(delay_s * 1000)),
        )
    )
    await notify_outbox(session)


async def dead_letter(session: AsyncSession, message: c.DeviceChangeMessage) -> None:
    session.add(
        OutboxMessage(
            exchange=c.EXCHANGE_DEAD_LETTER,
            routing_key=c.ROUTING_DEAD_DEVICE_CHANGE,
            body=message.model_dump(mode="json"),
        )
    )
    await notify_outbox(session)
