from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from devicebulk_common import contracts as c
from devicebulk_common.carriers import (
    AsyncRequestAccepted,
    CarrierAdapter,
    DeviceRef,
    SyncActionResult,
)
from devicebulk_common.models import BulkChange, Device, DeviceChange


@dataclass(frozen=True)
class Job:
    """What one attempt at one device change needs, read in the transaction that started it."""

    device_change_id: int
    bulk_change_id: uuid.UUID
    service_provider_id: int
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
Operation = Callable[[CarrierAdapter, Job], Awaitable[Outcome]]

OPERATIONS: dict[str, Operation] = {}


def operation(name: str) -> Callable[[Operation], Operation]:
    def register(fn: Operation) -> Operation:
        OPERATIONS[name] = fn
        return fn

    return register


def job_for(dc: DeviceChange, bulk: BulkChange, device: Device | None) -> Job:
    return Job(
        device_change_id=dc.id,
        bulk_change_id=dc.bulk_change_id,
        service_provider_id=bulk.service_provider_id,
        op=(dc.params or {}).get("op", ""),
        params=dc.params or {},
        request=bulk.request,
        device=DeviceRef(
            iccid=device.iccid if device else dc.iccid,
            imei=device.imei if device else None,
        ),
        attempt=dc.attempts,
    )
