"""The operations the worker runs, by the name intake stores in ``params["op"]``: each is an
operation spec of the kit (:mod:`devicebulk_common.operation_specs`, one module an operation).

A carrier operation runs for one *gathered batch*: device changes of the same carrier account
whose carrier parameters are identical (the spec's ``key``), sent as one carrier request of at
most the spec's ``max_devices`` and the carrier's own limit (its declared capabilities). An
operation whose ``key`` is ``None`` runs each device change alone. A database operation needs
no carrier: its spec's ``apply`` changes our records in the worker's transaction.

When an attempt starts, the spec's ``plan`` fits the params to the carrier's capability for the
operation (:func:`planned`; EditUsername: one step where one request carries both values), and
the worker stores them with the attempt, so every later path reads the same steps.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from devicebulk_common import contracts as c
from devicebulk_common.carriers import (
    AsyncRequestAccepted,
    CarrierAdapter,
    DeviceRef,
    PermanentCarrierError,
    SyncActionResult,
)
from devicebulk_common.carriers.capabilities import CarrierCapabilities, UnsupportedOperation
from devicebulk_common.models import BulkChange, Device, DeviceChange, ServiceProvider
from devicebulk_common.operation_specs import SPECS, OperationSpec
from devicebulk_common.providers import InvalidCarrierOptions, capabilities_of, provider_config
from devicebulk_worker.operations.legacy import with_carrier_params


@dataclass(frozen=True)
class Job:
    """What one attempt at one device change needs, read in the transaction that started it."""

    device_change_id: int
    bulk_change_id: uuid.UUID
    service_provider_id: int
    device_id: int | None
    op: str
    params: dict[str, Any]
    device: DeviceRef
    attempt: int

    @property
    def spec(self) -> OperationSpec:
        return SPECS[self.op]

    @property
    def message(self) -> c.DeviceChangeMessage:
        """The device message that runs this change again."""
        return c.DeviceChangeMessage(
            device_change_id=self.device_change_id,
            bulk_change_id=self.bulk_change_id,
            correlation_id=str(self.bulk_change_id),
        )


Outcome = AsyncRequestAccepted | SyncActionResult

INVALID_REQUEST = "Request.Invalid"
UNSUPPORTED = "Operation.Unsupported"


def devices_per_request(adapter: CarrierAdapter, spec: OperationSpec) -> int:
    """The most devices one request of this operation takes: the spec's and the carrier's."""
    limit = spec.max_devices
    capability = adapter.capabilities.operations.get(spec.capability or spec.name)
    if capability is not None:
        limit = min(limit, capability.devices_per_request)
    return max(1, limit)


async def send(adapter: CarrierAdapter, jobs: Sequence[Job]) -> Outcome:
    """One carrier request for the batch (every job shares its carrier parameters).

    An operation the carrier has no call for, and the arguments an adapter refuses before
    sending anything (a custom field over 50 characters, ...), are permanent failures of the
    device changes, not a crash that would leave them Processing."""
    spec = jobs[0].spec
    assert spec.send is not None, f"{spec.name} is a database operation"
    try:
        adapter.capabilities.operation(spec.capability or spec.name)
    except UnsupportedOperation as exc:
        raise PermanentCarrierError(str(exc), code=UNSUPPORTED) from exc
    try:
        return await spec.send(adapter, [j.device for j in jobs], jobs[0].params)
    except ValueError as exc:
        raise PermanentCarrierError(str(exc), code=INVALID_REQUEST) from exc


INVALID_OPTIONS = "Provider.InvalidOptions"


def carrier_capabilities(provider: ServiceProvider) -> CarrierCapabilities | str:
    """What the provider's carrier can do, from its stored options; or why they are refused
    (checked when stored: only a hand-edited row gets here), the reason its carrier device
    changes fail with rather than an adapter that cannot be built."""
    try:
        return capabilities_of(provider.integration, provider_config(provider))
    except (InvalidCarrierOptions, ValueError) as exc:
        return (
            f"service provider {provider.id}'s carrier options are refused: {exc} "
            "(devicebulk-admin update-provider fixes them)"
        )


def planned(params: dict[str, Any], capabilities: CarrierCapabilities) -> dict[str, Any] | None:
    """The params fitted to the carrier (its capability for the operation), or None: as they are."""
    spec = SPECS.get(params.get("op", ""))
    if spec is None or spec.plan is None:
        return None
    capability = capabilities.operations.get(spec.capability or spec.name)
    return spec.plan(params, capability) if capability is not None else None


def known(op: str) -> bool:
    return op in SPECS


def is_local(op: str) -> bool:
    return SPECS[op].local


def job_for(dc: DeviceChange, bulk: BulkChange, device: Device | None) -> Job:
    op = (dc.params or {}).get("op", "")
    return Job(
        device_change_id=dc.id,
        bulk_change_id=dc.bulk_change_id,
        service_provider_id=bulk.service_provider_id,
        device_id=dc.device_id,
        op=op,
        params=with_carrier_params(op, dc.params or {}, bulk.request),
        device=DeviceRef(
            iccid=device.iccid if device else dc.iccid,
            imei=device.imei if device else None,
        ),
        attempt=dc.attempts,
    )
