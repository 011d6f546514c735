"""ChangeType 3 (StatusUpdate) to Active for a device that is already active: no second
activation, only its primary place of use is sent again (UNCONFIRMED carrier call, isolated in
the adapter: ``CarrierAdapter.update_place_of_use``). Every device with the same place of use
shares one request; the carrier confirms each by callback.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence

from devicebulk_common import operations as ops
from devicebulk_common.carriers import CarrierAdapter, PermanentCarrierError
from devicebulk_worker.operations.registry import Job, Outcome, operation
from devicebulk_worker.operations.status import place_of_use

NO_PLACE_OF_USE = "PlaceOfUse.Missing"


def _requested(job: Job) -> dict:
    ts = (job.request.get("StatusUpdate") or {}).get("ThingSpaceStatusUpdate") or {}
    return ts.get("PrimaryPlaceOfUse") or {}


def _same_place(job: Job) -> Hashable:
    return json.dumps(_requested(job), sort_keys=True)


@operation(ops.UPDATE_PLACE_OF_USE, key=_same_place, max_devices=10_000)
async def update_place_of_use(adapter: CarrierAdapter, jobs: Sequence[Job]) -> Outcome:
    try:
        ppu = place_of_use({"PrimaryPlaceOfUse": _requested(jobs[0])})
    except (KeyError, TypeError) as exc:
        raise ValueError(f"the primary place of use lacks {exc}") from exc
    if ppu is None:
        raise PermanentCarrierError(
            "the device is already active and the request names no primary place of use to update",
            code=NO_PLACE_OF_USE,
        )
    return await adapter.update_place_of_use([j.device for j in jobs], ppu)
