"""Which device change a stored callback is about: only ever one of the bulk changes of the
provider whose listener received the callback.

- **By request id** (every path): the device change of that provider that recorded the
  callback's request id and has its ICCID; for a one-device request, its only one.
- **By open attempt** (the sweeper, for a request id no device change of the provider knows:
  its answer was lost, or it is recorded late): a success names its operation, and finds the
  one open device change (``Processing``/``AwaitingCallback``) of that provider, ICCID and
  operation (and step, for a change in two carrier requests) created before the callback came,
  or the ``Retry`` of an attempt whose outcome is unknown (its answer was lost: the callback is
  that outcome, and no device list is needed).
  A failure names no operation: it finds only an ``AwaitingCallback`` with no request id (the
  carrier showed the request under way; no other attempt will be sent), never a ``Processing``
  one, whose own attempt may still be in flight and succeed.
- **A request recorded by its callbacks**: when the first callbacks of a request never recorded
  find their open attempts, the request id is recorded on those device changes only (marked
  :data:`RECORDED_BY_CALLBACK`). A later callback of that request whose device is not among them
  is matched by open attempt as well (left for the sweeper), not taken for a device the request
  does not have: the request's other devices were never recorded either.
- **Moot**: no device change of that provider and ICCID is open any more (settled meanwhile,
  e.g. by a resume that read the carrier's device state): the callback is recorded as
  reconciled with that reason, not left pending forever.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Integer, Row, any_, bindparam, column, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.models import Device, DeviceChange
from devicebulk_common.operation_specs.edit_username import phase as username_phase

if TYPE_CHECKING:
    from devicebulk_common.callback_records import ParsedCallback

OPEN = frozenset(
    {c.DeviceChangeStatus.PROCESSING.value, c.DeviceChangeStatus.AWAITING_CALLBACK.value}
)

# The device change params key that has the worker check the carrier's device list before it
# sends anything: the last attempt's outcome is unknown (the worker's retry.ASK_FIRST).
ASK_FIRST = "ask_first"

# The device change params key saying its request id was recorded by a callback matched by
# open attempt, not by the worker (which recorded none: the answer was lost).
RECORDED_BY_CALLBACK = "request_recorded_by_callback"

# A device change with the id of its bulk change's provider.
Located = tuple[DeviceChange, int]

# The device changes of the callbacks' providers that recorded their request ids, by (provider,
# request id, ICCID); and for each request with a callback that names no ICCID we sent, its
# first two device changes (one alone means a one-device request, which that callback can only
# be about). Locked in id order.
_BY_REQUEST = text(
    """
    WITH sent AS MATERIALIZED (
        SELECT DISTINCT s.provider_id, s.request_id, s.iccid
        FROM unnest(CAST(:provider_ids AS integer[]), CAST(:request_ids AS text[]),
                    CAST(:iccids AS text[])) AS s(provider_id, request_id, iccid)
    ), of_request AS MATERIALIZED (
        SELECT d.id, d.carrier_request_id, d.iccid, b.service_provider_id AS provider_id
        FROM device_change AS d JOIN bulk_change AS b ON b.id = d.bulk_change_id
        WHERE d.carrier_request_id = ANY(CAST(:request_ids AS text[]))
          AND b.service_provider_id = ANY(CAST(:provider_ids AS integer[]))
    ), matched AS MATERIALIZED (
        SELECT o.id, s.provider_id, s.request_id, s.iccid FROM of_request AS o
        JOIN sent AS s ON o.provider_id = s.provider_id AND o.carrier_request_id = s.request_id
                      AND o.iccid = s.iccid
    ), unmatched AS (
        SELECT DISTINCT s.provider_id, s.request_id FROM sent AS s
        WHERE NOT EXISTS (
            SELECT 1 FROM matched AS m WHERE m.provider_id = s.provider_id
                AND m.request_id = s.request_id AND m.iccid = s.iccid
        )
    ), chosen AS (
        SELECT id, provider_id FROM matched
        UNION
        SELECT f.id, u.provider_id FROM unmatched AS u CROSS JOIN LATERAL (
            SELECT o.id FROM of_request AS o
            WHERE o.provider_id = u.provider_id AND o.carrier_request_id = u.request_id
            ORDER BY o.id LIMIT 2
        ) AS f
    )
    SELECT device_change.*, chosen.provider_id FROM device_change
    JOIN chosen ON chosen.id = device_change.id
    ORDER BY device_change.id
    FOR UPDATE OF device_change
    """
)

# The device changes of each (provider, ICCID) that are not terminal, and the latest of each
# (to say what made a callback moot), of that provider's bulk changes. Locked in id order.
_BY_DEVICE = text(
    """
    WITH named AS MATERIALIZED (
        SELECT DISTINCT d.id AS device_id, s.provider_id, s.iccid
        FROM unnest(CAST(:provider_ids AS integer[]), CAST(:iccids AS text[]))
             AS s(provider_id, iccid)
        JOIN device AS d ON d.service_provider_id = s.provider_id AND d.iccid = s.iccid
    ), of_device AS MATERIALIZED (
        SELECT dc.id, dc.status, n.provider_id, n.device_id FROM named AS n
        JOIN device_change AS dc ON dc.device_id = n.device_id AND dc.iccid = n.iccid
        JOIN bulk_change AS b ON b.id = dc.bulk_change_id
                             AND b.service_provider_id = n.provider_id
    ), chosen AS (
        SELECT id, provider_id FROM of_device
        WHERE status <> ALL(CAST(:terminal AS text[]))
        UNION
        SELECT max(id), provider_id FROM of_device GROUP BY provider_id, device_id
    )
    SELECT device_change.*, chosen.provider_id FROM device_change
    JOIN chosen ON chosen.id = device_change.id
    ORDER BY device_change.id
    FOR UPDATE OF device_change
    """
)


def bigints(name: str, values: Iterable[int]) -> Any:
    return bindparam(name, list(values), type_=ARRAY(BigInteger))


async def _located(session: AsyncSession, statement: Any, params: dict[str, Any]) -> list[Located]:
    query = select(DeviceChange, column("provider_id", Integer)).from_statement(statement)
    result = await session.execute(query, params, execution_options={"populate_existing": True})
    return [(row[0], row[1]) for row in result.all()]


async def lock_by_request(session: AsyncSession, callbacks: Sequence[Row[Any]]) -> list[Located]:
    return await _located(
        session,
        _BY_REQUEST,
        {
            "provider_ids": [cb.service_provider_id for cb in callbacks],
            "request_ids": [cb.request_id for cb in callbacks],
            "iccids": [cb.iccid for cb in callbacks],
        },
    )


async def lock_by_device(session: AsyncSession, callbacks: Sequence[Row[Any]]) -> list[Located]:
    named = [cb for cb in callbacks if cb.iccid]
    if not named:
        return []
    return await _located(
        session,
        _BY_DEVICE,
        {
            "provider_ids": [cb.service_provider_id for cb in named],
            "iccids": [cb.iccid for cb in named],
            "terminal": sorted(s.value for s in c.TERMINAL_DEVICE_STATUSES),
        },
    )


async def lock_devices(session: AsyncSession, device_ids: Iterable[int]) -> dict[int, Device]:
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    devices = await session.scalars(
        select(Device)
        .where(Device.id == any_(bigints("device_ids", ids)))
        .order_by(Device.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {d.id: d for d in devices}


Target = tuple[int, "ParsedCallback", DeviceChange | None]


def match_by_request(
    callbacks: Sequence[tuple[Row[Any], ParsedCallback]], changes: Sequence[Located]
) -> tuple[list[Target], list[tuple[Row[Any], ParsedCallback]]]:
    """Each callback of a request its provider recorded, with its device change, found by
    ICCID, or for a one-device request its only one (None: the request has no such device).
    The callbacks of requests no device change of their provider knows come back apart."""
    by_pair = {(p, dc.carrier_request_id, dc.iccid): dc for dc, p in changes}
    of_request: dict[tuple[int, str | None], list[DeviceChange]] = defaultdict(list)
    for dc, provider_id in changes:
        of_request[(provider_id, dc.carrier_request_id)].append(dc)
    targets: list[Target] = []
    unrecorded: list[tuple[Row[Any], ParsedCallback]] = []
    for cb, parsed in callbacks:
        known = of_request.get((cb.service_provider_id, cb.request_id))
        if not known:
            unrecorded.append((cb, parsed))
            continue
        key = (cb.service_provider_id, cb.request_id, cb.iccid)
        if key not in by_pair and all((dc.params or {}).get(RECORDED_BY_CALLBACK) for dc in known):
            unrecorded.append((cb, parsed))  # recorded by callbacks, not every device yet
            continue
        only = known[0] if len(known) == 1 else None
        targets.append((cb.id, parsed, by_pair.get(key) or only))
    return targets, unrecorded


@dataclass
class DeviceMatch:
    """What the callbacks of unrecorded requests are about (see the module's docstring)."""

    targets: list[Target]
    # (callback id, device change id, why it is moot)
    moot: list[tuple[int, int, str]]
    # callback id -> why it waits
    waiting: dict[int, str]


def _awaits_unknown_outcome(dc: DeviceChange) -> bool:
    """A retry whose last attempt may have been carried out (its answer was lost: the ask-first
    mark): the carrier's success callback for that operation is that attempt's outcome, and
    settles it without the device-list check the retry would otherwise make."""
    return dc.status == c.DeviceChangeStatus.RETRY.value and bool((dc.params or {}).get(ASK_FIRST))


def _fits(cb: Row[Any], parsed: ParsedCallback, dc: DeviceChange) -> bool:
    if dc.status not in OPEN and not (parsed.ok and _awaits_unknown_outcome(dc)):
        return False
    if not parsed.ok:
        return (
            dc.status == c.DeviceChangeStatus.AWAITING_CALLBACK.value
            and dc.carrier_request_id is None
        )
    operation = parsed.operation
    if operation is None or dc.created_at > cb.received_at:
        return False
    op, phase = operation
    params = dc.params or {}
    return params.get("op") == op and (phase is None or username_phase(params) == phase)


def match_by_device(
    callbacks: Sequence[tuple[Row[Any], ParsedCallback]], changes: Sequence[Located]
) -> DeviceMatch:
    of_device: dict[tuple[int, str], list[DeviceChange]] = defaultdict(list)
    for dc, provider_id in changes:
        of_device[(provider_id, dc.iccid)].append(dc)
    out = DeviceMatch([], [], {})
    for cb, parsed in callbacks:
        candidates = of_device.get((cb.service_provider_id, cb.iccid or ""), [])
        fits = [dc for dc in candidates if _fits(cb, parsed, dc)]
        pending = [dc for dc in candidates if not c.DeviceChangeStatus(dc.status).is_terminal]
        if len(fits) == 1:
            out.targets.append((cb.id, parsed, fits[0]))
        elif pending:
            named = ", ".join(f"{dc.id} ({dc.status})" for dc in pending)
            out.waiting[cb.id] = f"request not recorded; no open attempt fits: {named}"
        elif candidates:
            latest = max(candidates, key=lambda dc: dc.id)
            out.moot.append(
                (
                    cb.id,
                    latest.id,
                    f"moot: request {cb.request_id} was never recorded and device change "
                    f"{latest.id} had already ended {latest.status}",
                )
            )
        else:
            out.waiting[cb.id] = (
                f"no device change of provider {cb.service_provider_id} has this device"
            )
    return out
