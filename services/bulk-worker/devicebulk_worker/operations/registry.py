"""The operations the worker runs, by the name intake stores in ``params["op"]``.

A carrier operation runs for one *gathered batch*: device changes of the same carrier account
whose carrier parameters are identical (its ``key``), sent as one carrier request of at most
``max_devices`` devices. An operation whose ``key`` is ``None`` for a job runs that job alone.
A database operation needs no carrier: it changes our records in the worker's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.carriers import (
    AsyncRequestAccepted,
    CarrierAdapter,
    DeviceRef,
    PermanentCarrierError,
    SyncActionResult,
)
from devicebulk_common.models import BulkChange, Device, DeviceChange


@dataclass(frozen=True)
class Job:
    """What one attempt at one device change needs, read in the transaction that started it."""

    device_change_id: int
    bulk_change_id: uuid.UUID
    service_provider_id: int
    device_id: int | None
    op: str
    params: dict[str, Any]
    request: dict[str, Any]
    device: DeviceRef
    attempt: int

    @property
    def message(self) -> c.DeviceChangeMessage:
        """The device message that runs this change again."""
        return c.DeviceChangeMessage(
            device_change_id=self.device_change_id,
            bulk_change_id=self.bulk_change_id,
            correlation_id=str(self.bulk_change_id),
        )


Outcome = AsyncRequestAccepted | SyncActionResult
CarrierCall = Callable[[CarrierAdapter, Sequence[Job]], Awaitable[Outcome]]
BatchKey = Callable[[Job], Hashable | None]
# What a synchronous per-device success does to our records (same transaction as the outcome).
SyncEffect = Callable[[AsyncSession, Sequence[Job]], Awaitable[None]]


class LocalRefusal(Exception):
    """A database operation cannot be applied to this device (a named, permanent reason)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Runs in the worker's transaction; returns the result stored on the device change.
LocalCall = Callable[[AsyncSession, Job], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Operation:
    name: str
    call: CarrierCall
    key: BatchKey
    max_devices: int = 10_000
    sync_effect: SyncEffect | None = None


OPERATIONS: dict[str, Operation] = {}
LOCAL_OPERATIONS: dict[str, LocalCall] = {}


def _alone(job: Job) -> Hashable | None:
    return None


def operation(
    name: str,
    *,
    key: BatchKey = _alone,
    max_devices: int = 10_000,
    sync_effect: SyncEffect | None = None,
) -> Callable[[CarrierCall], CarrierCall]:
    """Register a carrier operation. ``key`` names the carrier parameters that must be equal
    for two device changes to share one request (``None``: never shared)."""

    def register(fn: CarrierCall) -> CarrierCall:
        OPERATIONS[name] = Operation(name, _refusing_invalid(fn), key, max_devices, sync_effect)
        return fn

    return register


INVALID_REQUEST = "Request.Invalid"


def _refusing_invalid(fn: CarrierCall) -> CarrierCall:
    """The adapter refuses invalid arguments (a custom field over 50 characters, ...) with
    ValueError before sending anything: that is a permanent failure of the device change, not
    a crash that would leave it Processing."""

    async def call(adapter: CarrierAdapter, jobs: Sequence[Job]) -> Outcome:
        try:
            return await fn(adapter, jobs)
        except ValueError as exc:
            raise PermanentCarrierError(str(exc), code=INVALID_REQUEST) from exc

    return call


def local_operation(name: str) -> Callable[[LocalCall], LocalCall]:
    """Register a database-only operation (no carrier call)."""

    def register(fn: LocalCall) -> LocalCall:
        LOCAL_OPERATIONS[name] = fn
        return fn

    return register


def known(op: str) -> bool:
    return op in OPERATIONS or op in LOCAL_OPERATIONS


def job_for(dc: DeviceChange, bulk: BulkChange, device: Device | None) -> Job:
    return Job(
        device_change_id=dc.id,
        bulk_change_id=dc.bulk_change_id,
        service_provider_id=bulk.service_provider_id,
        device_id=dc.device_id,
        op=(dc.params or {}).get("op", ""),
        params=dc.params or {},
        request=bulk.request,
        device=DeviceRef(
            iccid=device.iccid if device else dc.iccid,
            imei=device.imei if device else None,
        ),
        attempt=dc.attempts,
    )
