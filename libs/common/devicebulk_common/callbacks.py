"""Carrier callbacks: parse, store first (deduplicated), then reconcile into device records.

Storing and reconciling are set-based: :func:`store_many` stores a batch of callbacks with one
``INSERT ... ON CONFLICT``, and a reconciliation of any number of callbacks costs a constant
number of statements (the callbacks, their device changes and their devices each locked with one
query, the effects applied in memory, the terminal transitions, the callbacks' outcomes and the
audit rows each written with one statement).

Reconciliation is correct in any order of events: the worker recording a request id and the
receiver reconciling the callbacks it stored both take a transaction-scoped advisory lock on the
request id (:func:`lock_request`) and then reconcile whatever callbacks of that request are
stored and unprocessed. Whichever comes second sees the other's work, so an early callback waits
in ``carrier_callback`` until the worker records the request id, and a duplicate finds its
device change already terminal.

What a confirmed callback does to our records, per operation, is
:mod:`devicebulk_common.operation_specs`: it ends the device change, or (``NextPhase``)
queues it again for its next carrier request.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, any_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.callback_matching import (
    RECORDED_BY_CALLBACK,
    bigints,
    lock_by_device,
    lock_by_request,
    lock_devices,
    match_by_device,
    match_by_request,
)
from devicebulk_common.callback_records import (
    ParsedCallback,
)
from devicebulk_common.carriers.callback_parsers import parser_for
from devicebulk_common.carriers.redaction import redact_callback
from devicebulk_common.models import CarrierCallback, ServiceProvider
from devicebulk_common.reconciliation import Reconciliation

# ---- store first --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One callback as it came in, for :func:`store_many`."""

    service_provider_id: int
    parsed: ParsedCallback
    payload: dict[str, Any]


@dataclass(frozen=True)
class Stored:
    """Where a received callback is stored, and whether this was the first time it was seen."""

    id: int
    request_id: str
    first: bool


_STORE = text(
    """
    INSERT INTO carrier_callback AS cb
        (service_provider_id, dedupe_key, request_id, iccid, status, payload, times_received)
    SELECT v.provider_id, v.dedupe_key, v.request_id, v.iccid, v.status,
           CAST(v.payload AS jsonb), v.times
    FROM unnest(CAST(:provider_ids AS integer[]), CAST(:keys AS text[]),
                CAST(:request_ids AS text[]), CAST(:iccids AS text[]), CAST(:statuses AS text[]),
                CAST(:payloads AS text[]), CAST(:times AS integer[]))
         AS v(provider_id, dedupe_key, request_id, iccid, status, payload, times)
    ON CONFLICT (service_provider_id, dedupe_key) DO UPDATE
        SET times_received = cb.times_received + EXCLUDED.times_received
    RETURNING cb.id, cb.service_provider_id, cb.dedupe_key, cb.times_received
    """
)


async def store_many(session: AsyncSession, received: Sequence[Received]) -> list[Stored]:
    """Store callbacks as received, with one statement; a repeat only counts (``times_received``).

    Returns one :class:`Stored` per item, in order. The same callback twice in the batch is one
    row (PostgreSQL refuses to update a row twice in one statement): it counts twice, and only
    its first copy is ``first`` (and only if the row is new). A callback is the same only if
    the same provider's listener received it: the key is (provider, :meth:`dedupe_key`)."""
    if not received:
        return []
    keys = [(r.service_provider_id, r.parsed.dedupe_key()) for r in received]
    copies: dict[tuple[int, str], list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        copies[key].append(index)
    firsts = [received[indexes[0]] for indexes in copies.values()]
    rows = (
        await session.execute(
            _STORE,
            {
                "provider_ids": [r.service_provider_id for r in firsts],
                "keys": [key for _, key in copies],
                "request_ids": [r.parsed.request_id for r in firsts],
                "iccids": [r.parsed.iccid for r in firsts],
                "statuses": ["Success" if r.parsed.ok else "Failed" for r in firsts],
                "payloads": [json.dumps(redact_callback(r.payload)) for r in firsts],
                "times": [len(indexes) for indexes in copies.values()],
            },
        )
    ).all()
    by_key = {(row.service_provider_id, row.dedupe_key): row for row in rows}
    out: list[Stored] = []
    for index, (item, key) in enumerate(zip(received, keys, strict=True)):
        row = by_key[key]
        new = row.times_received == len(copies[key])  # nobody counted it before this batch
        out.append(Stored(row.id, item.parsed.request_id, new and copies[key][0] == index))
    return out


async def store(
    session: AsyncSession, service_provider_id: int, parsed: ParsedCallback, payload: dict[str, Any]
) -> tuple[int, bool]:
    """Store one callback as received; a repeat only counts. Returns (id, first time seen)."""
    (stored,) = await store_many(session, [Received(service_provider_id, parsed, payload)])
    return stored.id, stored.first


# ---- reconcile ----------------------------------------------------------------------------------


def _lock_key(request_id: str) -> str:
    return f"carrier-request:{request_id}"


async def lock_request(session: AsyncSession, request_id: str, *, shared: bool = False) -> None:
    """Transaction-scoped lock on a carrier request id (see :func:`reconcile_request`)."""
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    await session.execute(text(f"SELECT {fn}(hashtext(:rid))"), {"rid": _lock_key(request_id)})


# One lock per row of the array, taken in the array's order.
_LOCK_SHARED = text(
    "SELECT pg_advisory_xact_lock_shared(hashtext(k)) FROM unnest(CAST(:keys AS text[])) AS t(k)"
)


async def lock_requests_shared(session: AsyncSession, request_ids: Iterable[str]) -> None:
    """:func:`lock_request` ``shared`` on many request ids with one statement, in a fixed order."""
    keys = [_lock_key(r) for r in sorted(set(request_ids))]
    if keys:
        await session.execute(_LOCK_SHARED, {"keys": keys})


_CALLBACK_COLUMNS = (
    CarrierCallback.id,
    CarrierCallback.service_provider_id,
    CarrierCallback.request_id,
    CarrierCallback.iccid,
    CarrierCallback.payload,
    CarrierCallback.received_at,
)


async def reconcile_request(
    session: AsyncSession, request_id: str, *, callback_ids: Sequence[int] | None = None
) -> int:
    """Apply the stored, unprocessed callbacks of ``request_id`` whose device change is known
    (only ``callback_ids`` if given). Returns how many found their device change.

    The caller holds :func:`lock_request`: exclusive to reconcile every callback of the
    request (the worker recording the request id, the sweeper), shared to reconcile only
    given callbacks (the receiver), so the callbacks of one 10,000-device request are
    reconciled side by side, each batch locking only its own rows.
    """
    query = select(*_CALLBACK_COLUMNS).where(
        CarrierCallback.request_id == request_id, CarrierCallback.processed_at.is_(None)
    )
    if callback_ids is not None:
        query = query.where(CarrierCallback.id == any_(bigints("callback_ids", callback_ids)))
    query = query.order_by(CarrierCallback.id).with_for_update(skip_locked=callback_ids is not None)
    return (await _reconcile(session, (await session.execute(query)).all())).applied


async def reconcile_callbacks(session: AsyncSession, callback_ids: Sequence[int]) -> int:
    """:func:`reconcile_request` for the given callbacks, of any requests: the caller holds
    :func:`lock_requests_shared` on all their request ids. Callbacks already processed, or
    locked by another reconciliation, are left alone."""
    query = (
        select(*_CALLBACK_COLUMNS)
        .where(
            CarrierCallback.id == any_(bigints("callback_ids", callback_ids)),
            CarrierCallback.processed_at.is_(None),
            CarrierCallback.request_id.is_not(None),
        )
        .order_by(CarrierCallback.id)
        .with_for_update(skip_locked=True)
    )
    return (await _reconcile(session, (await session.execute(query)).all())).applied


async def _reconcile(
    session: AsyncSession, callbacks: Sequence[Row[Any]], *, by_device: bool = False
) -> Swept:
    """Reconcile locked callbacks: each finds its device change (of its own provider), the first
    callback of a device change that is still open applies, the others are recorded as ignored.
    ``by_device``: the callbacks of requests their provider never recorded are matched by open
    attempt, or recorded as moot (see :mod:`devicebulk_common.callback_matching`)."""
    swept = Swept(0, {})
    if not callbacks:
        return swept
    # Each stored body is read again by its provider's carrier's parser.
    integrations = dict(
        (
            await session.execute(
                select(ServiceProvider.id, ServiceProvider.integration).where(
                    ServiceProvider.id.in_({cb.service_provider_id for cb in callbacks})
                )
            )
        ).all()
    )
    parsed = [
        (
            cb,
            parser_for(integrations.get(cb.service_provider_id, ""))(
                cb.payload | {"username": "", "password": ""}
            ),
        )
        for cb in callbacks
    ]
    targets, unrecorded = match_by_request(parsed, await lock_by_request(session, callbacks))
    by_attempt: set[int] = set()
    moot: list[tuple[int, int, str]] = []
    if by_device and unrecorded:
        found = match_by_device(
            unrecorded, await lock_by_device(session, [cb for cb, _ in unrecorded])
        )
        for callback_id, cb, change in found.targets:
            assert change is not None
            if change.carrier_request_id is None:
                change.carrier_request_id = cb.request_id  # recorded late, by its callback
                change.params = {**(change.params or {}), RECORDED_BY_CALLBACK: True}
            by_attempt.add(callback_id)
        targets += found.targets
        moot = found.moot
        swept.waiting = found.waiting
    devices = await lock_devices(
        session,
        (
            change.device_id
            for _, cb, change in targets
            if cb.ok
            and change is not None
            and change.device_id is not None
            and not c.DeviceChangeStatus(change.status).is_terminal
        ),
    )
    work = Reconciliation()
    for callback_id, cb, change in targets:
        if change is None:
            work.unmatched(callback_id)
        else:
            device = devices.get(change.device_id) if change.device_id is not None else None
            note = "matched by ICCID and open attempt (request id not recorded)"
            await work.apply(
                session,
                callback_id,
                cb,
                change,
                device,
                note=note if callback_id in by_attempt else None,
            )
    work.outcomes.extend(moot)
    await work.write(session)
    swept.applied = sum(1 for _, _, change in targets if change is not None) + len(moot)
    return swept


@dataclass
class Swept:
    """What a reconciliation did: how many callbacks found their device change (or were moot),
    and why each one left pending waits."""

    applied: int
    waiting: dict[int, str]


async def reconcile_swept(session: AsyncSession, callback_ids: Sequence[int]) -> Swept:
    """:func:`reconcile_callbacks` for the sweeper: also matches the callbacks of requests their
    provider never recorded, by open attempt, or records them as moot. The caller holds
    :func:`lock_request` on their request ids."""
    query = (
        select(*_CALLBACK_COLUMNS)
        .where(
            CarrierCallback.id == any_(bigints("callback_ids", callback_ids)),
            CarrierCallback.processed_at.is_(None),
        )
        .order_by(CarrierCallback.id)
        .with_for_update(skip_locked=True)
    )
    return await _reconcile(session, (await session.execute(query)).all(), by_device=True)
