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
:data:`devicebulk_common.callback_effects.EFFECTS`: it ends the device change, or (``NextPhase``)
queues it again for its next carrier request.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Row, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common import contracts as c
from devicebulk_common.models import CarrierCallback, Device, DeviceChange
from devicebulk_common.reconciliation import Reconciliation

# The longest identifiers ``carrier_callback`` stores (its column widths); longer is malformed.
MAX_REQUEST_ID = 64
MAX_ICCID = 40


class MalformedCallback(ValueError):
    """The body is not a ThingSpace callback."""


@dataclass(frozen=True)
class ParsedCallback:
    request_id: str
    ok: bool
    device_ids: dict[str, str]
    response_key: str | None = None
    response_ids: dict[str, str] = field(default_factory=dict)
    fault_code: str | None = None
    fault_message: str | None = None
    username: str = ""
    password: str = ""
    callback_count: int = 1

    @property
    def iccid(self) -> str | None:
        return self.device_ids.get("iccid")

    def dedupe_key(self) -> str:
        """Same request, same device, same outcome: the same callback (callbackCount aside)."""
        ids = ",".join(f"{k}={v}" for k, v in sorted(self.device_ids.items()))
        raw = f"{self.request_id}|{ids}|{self.ok}|{self.response_key}|{self.fault_code}"
        return hashlib.sha256(raw.encode()).hexdigest()


def _ids(items: Any) -> dict[str, str]:
    if not isinstance(items, list):
        return {}
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("kind"), str) and "id" in item:
            out[item["kind"].lower()] = str(item["id"])
    return out


def parse_thingspace(payload: Any) -> ParsedCallback:
    if not isinstance(payload, dict):
        raise MalformedCallback("callback body must be a JSON object")
    request_id = payload.get("requestId")
    if not isinstance(request_id, str) or not request_id:
        raise MalformedCallback("callback has no requestId")
    if len(request_id) > MAX_REQUEST_ID:
        raise MalformedCallback(f"requestId is longer than {MAX_REQUEST_ID} characters")
    device_ids = _ids(payload.get("deviceIds"))
    if not device_ids:
        raise MalformedCallback("callback has no deviceIds")
    if len(device_ids.get("iccid") or "") > MAX_ICCID:
        raise MalformedCallback(f"the ICCID is longer than {MAX_ICCID} characters")
    fault = payload.get("faultResponse")
    status = str(payload.get("status", "")).lower()
    ok = status == "success" and not fault
    response_key: str | None = None
    response_ids: dict[str, str] = {}
    response = payload.get("deviceResponse")
    if isinstance(response, dict) and response:
        response_key = next(iter(response))
        inner = response[response_key]
        if isinstance(inner, dict):
            response_ids = _ids(inner.get("deviceIds"))
    fault_code = fault_message = None
    if isinstance(fault, dict):
        fault_code = str(fault.get("faultcode") or "") or None
        fault_message = str(fault.get("faultstring") or "") or None
    elif not ok:
        fault_code = "CallbackFailed"
        fault_message = f"carrier reported status {payload.get('status')!r}"
    count = payload.get("callbackCount")
    return ParsedCallback(
        request_id=request_id,
        ok=ok,
        device_ids=device_ids,
        response_key=response_key,
        response_ids=response_ids,
        fault_code=fault_code,
        fault_message=fault_message,
        username=str(payload.get("username") or ""),
        password=str(payload.get("password") or ""),
        callback_count=count if isinstance(count, int) else 1,
    )


def redacted(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: ("***" if k in ("username", "password") else v) for k, v in payload.items()}


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
    ON CONFLICT (dedupe_key) DO UPDATE
        SET times_received = cb.times_received + EXCLUDED.times_received
    RETURNING cb.id, cb.dedupe_key, cb.times_received
    """
)


async def store_many(session: AsyncSession, received: Sequence[Received]) -> list[Stored]:
    """Store callbacks as received, with one statement; a repeat only counts (``times_received``).

    Returns one :class:`Stored` per item, in order. The same callback twice in the batch is one
    row (PostgreSQL refuses to update a row twice in one statement): it counts twice, and only
    its first copy is ``first`` (and only if the row is new)."""
    if not received:
        return []
    keys = [r.parsed.dedupe_key() for r in received]
    copies: dict[str, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        copies[key].append(index)
    firsts = [received[indexes[0]] for indexes in copies.values()]
    rows = (
        await session.execute(
            _STORE,
            {
                "provider_ids": [r.service_provider_id for r in firsts],
                "keys": list(copies),
                "request_ids": [r.parsed.request_id for r in firsts],
                "iccids": [r.parsed.iccid for r in firsts],
                "statuses": ["Success" if r.parsed.ok else "Failed" for r in firsts],
                "payloads": [json.dumps(redacted(r.payload)) for r in firsts],
                "times": [len(indexes) for indexes in copies.values()],
            },
        )
    ).all()
    by_key = {row.dedupe_key: row for row in rows}
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
    CarrierCallback.request_id,
    CarrierCallback.iccid,
    CarrierCallback.payload,
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
        query = query.where(CarrierCallback.id == any_(_bigints("callback_ids", callback_ids)))
    query = query.order_by(CarrierCallback.id).with_for_update(skip_locked=callback_ids is not None)
    return await _reconcile(session, (await session.execute(query)).all())


async def reconcile_callbacks(session: AsyncSession, callback_ids: Sequence[int]) -> int:
    """:func:`reconcile_request` for the given callbacks, of any requests: the caller holds
    :func:`lock_requests_shared` on all their request ids. Callbacks already processed, or
    locked by another reconciliation, are left alone."""
    query = (
        select(*_CALLBACK_COLUMNS)
        .where(
            CarrierCallback.id == any_(_bigints("callback_ids", callback_ids)),
            CarrierCallback.processed_at.is_(None),
            CarrierCallback.request_id.is_not(None),
        )
        .order_by(CarrierCallback.id)
        .with_for_update(skip_locked=True)
    )
    return await _reconcile(session, (await session.execute(query)).all())


def _bigints(name: str, values: Sequence[int]) -> Any:
    return bindparam(name, list(values), type_=ARRAY(BigInteger))


# The device changes the callbacks name, by (request id, ICCID); and for each request with a
# callback that names no ICCID we sent, its first two device changes (one alone means a
# one-device request, which that callback can only be about). Locked in id order.
_CHANGES = text(
    """
    WITH sent AS MATERIALIZED (
        SELECT DISTINCT s.request_id, s.iccid
        FROM unnest(CAST(:request_ids AS text[]), CAST(:iccids AS text[])) AS s(request_id, iccid)
    ), of_request AS MATERIALIZED (
        SELECT d.id, d.carrier_request_id, d.iccid FROM device_change AS d
        WHERE d.carrier_request_id = ANY(CAST(:request_ids AS text[]))
    ), matched AS MATERIALIZED (
        SELECT o.id, s.request_id, s.iccid FROM of_request AS o
        JOIN sent AS s ON o.carrier_request_id = s.request_id AND o.iccid = s.iccid
    ), unmatched AS (
        SELECT DISTINCT s.request_id FROM sent AS s
        WHERE NOT EXISTS (
            SELECT 1 FROM matched AS m WHERE m.request_id = s.request_id AND m.iccid = s.iccid
        )
    )
    SELECT device_change.* FROM device_change
    WHERE device_change.id IN (
        SELECT id FROM matched
        UNION
        SELECT f.id FROM unmatched AS u CROSS JOIN LATERAL (
            SELECT o.id FROM of_request AS o WHERE o.carrier_request_id = u.request_id
            ORDER BY o.id LIMIT 2
        ) AS f
    )
    ORDER BY device_change.id
    FOR UPDATE OF device_change
    """
)


async def _lock_changes(session: AsyncSession, callbacks: Sequence[Row[Any]]) -> list[DeviceChange]:
    statement = select(DeviceChange).from_statement(_CHANGES)
    result = await session.scalars(
        statement,
        {
            "request_ids": [cb.request_id for cb in callbacks],
            "iccids": [cb.iccid for cb in callbacks],
        },
        execution_options={"populate_existing": True},
    )
    return list(result.all())


async def _lock_devices(session: AsyncSession, device_ids: Iterable[int]) -> dict[int, Device]:
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    devices = await session.scalars(
        select(Device)
        .where(Device.id == any_(_bigints("device_ids", ids)))
        .order_by(Device.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {d.id: d for d in devices}


_Target = tuple[int, ParsedCallback, DeviceChange | None]


async def _reconcile(session: AsyncSession, callbacks: Sequence[Row[Any]]) -> int:
    """Reconcile locked callbacks: each finds its device change, the first callback of a device
    change that is still open applies, the others are recorded as ignored."""
    if not callbacks:
        return 0
    targets = _match(callbacks, await _lock_changes(session, callbacks))
    devices = await _lock_devices(
        session,
        (
            change.device_id
            for _, parsed, change in targets
            if parsed.ok
            and change is not None
            and change.device_id is not None
            and not c.DeviceChangeStatus(change.status).is_terminal
        ),
    )
    work = Reconciliation()
    for callback_id, parsed, change in targets:
        if change is None:
            work.unmatched(callback_id)
        else:
            device = devices.get(change.device_id) if change.device_id is not None else None
            await work.apply(session, callback_id, parsed, change, device)
    await work.write(session)
    return sum(1 for _, _, change in targets if change is not None)


def _match(callbacks: Sequence[Row[Any]], changes: Sequence[DeviceChange]) -> list[_Target]:
    """Each callback of a recorded request with its device change, found by ICCID, or for a
    one-device request its only one (None: the request has no such device). Callbacks of a
    request not recorded yet are left out: the worker reconciles them when it records it."""
    by_pair = {(dc.carrier_request_id, dc.iccid): dc for dc in changes}
    of_request: dict[str | None, list[DeviceChange]] = defaultdict(list)
    for dc in changes:
        of_request[dc.carrier_request_id].append(dc)
    targets: list[_Target] = []
    for cb in callbacks:
        known = of_request.get(cb.request_id)
        if not known:
            continue
        only = known[0] if len(known) == 1 else None
        parsed = parse_thingspace(cb.payload | {"username": "", "password": ""})
        targets.append((cb.id, parsed, by_pair.get((cb.request_id, cb.iccid)) or only))
    return targets
