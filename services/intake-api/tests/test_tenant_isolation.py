"""Isolation, route by route, generated from the application's route table: tenant B, with a
valid token holding every scope, gets a 404 (existence is not disclosed) or an empty list for
each of tenant A's objects on every API route, and nothing of A changes.

A route added later cannot escape: every path parameter must map to one of A's objects
(``A_OBJECTS``), and every route without one must have a probe (``COLLECTION_PROBES``), or the
coverage test fails.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from intake_auth_helpers import bearer
from operator_helpers import make_bulk_change, result
from sqlalchemy import select
from starlette.routing import BaseRoute

from devicebulk_common.lifecycle import audit
from devicebulk_common.models import (
    BulkChange,
    Device,
    DeviceChange,
    DeviceChangeLog,
    OutboxMessage,
)
from devicebulk_intake.app import create_app
from devicebulk_intake.settings import IntakeSettings

# Every path parameter of the API, and which of A's objects it names.
A_OBJECTS = {"bulk_change_id", "device_change_id"}


@dataclass(frozen=True)
class World:
    a: int
    b: int
    provider: int
    # A's bulk changes: one finished with a failed device (retry would run), one still queued
    # (cancel would run), each with its device change ids.
    a_changes: list[tuple[uuid.UUID, list[int]]]
    a_iccid: str  # a device of A's inventory
    b_change: uuid.UUID  # a bulk change of B's own


# Routes that need no caller: probes, metrics and the API's own documentation.
PUBLIC = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect"}
PUBLIC |= {"/redoc"}


def route_table() -> list[tuple[str, BaseRoute]]:
    """Every route of the application with its full path (included routers flattened)."""
    app = create_app(IntakeSettings(auth_mode="dev"))
    return [(context.path, context.original_route) for context in iter_route_contexts(app.routes)]


def api_routes() -> list[tuple[str, str, APIRoute]]:
    return sorted(
        ((method, path, route) for path, route in route_table() if path not in PUBLIC
         for method in getattr(route, "methods", None) or ["?"]),
        key=lambda entry: entry[:2],
    )  # fmt: skip


def _activation(world: World) -> dict[str, Any]:
    return {
        "ServiceProviderId": world.provider,
        "ChangeType": 3,
        "Devices": [world.a_iccid],
        "StatusUpdate": {
            "TargetStatus": "Active",
            "ThingSpaceStatusUpdate": {"ServicePlan": "M2M_4G", "ZipCode": "92127"},
        },
    }


async def _list(api: httpx.AsyncClient, auth: dict[str, str], world: World) -> None:
    answer = await api.get("/api/v1/bulk-changes", headers=auth)
    assert answer.status_code == 200, answer.text
    listed = {item["BulkChangeId"] for item in answer.json()["Items"]}
    assert listed == {str(world.b_change)}  # B's own, none of A's


async def _submit(api: httpx.AsyncClient, auth: dict[str, str], world: World) -> None:
    """B names A's device: judged as a device B does not have, stored under B only."""
    answer = await api.post("/api/v1/bulk-changes", json=_activation(world), headers=auth)
    assert answer.status_code == 202, answer.text
    assert answer.json()["ValidationFailedCount"] == 1 and answer.json()["QueuedCount"] == 0


async def _validate(api: httpx.AsyncClient, auth: dict[str, str], world: World) -> None:
    answer = await api.post("/api/v1/bulk-changes/validate", json=_activation(world), headers=auth)
    assert answer.status_code == 200, answer.text
    assert [d["Ok"] for d in answer.json()["Devices"]] == [False]


async def _csv(api: httpx.AsyncClient, auth: dict[str, str], world: World) -> None:
    fields = {k: v for k, v in _activation(world).items() if k != "Devices"}
    answer = await api.post(
        "/api/v1/bulk-changes/csv",
        content=f"ICCID\n{world.a_iccid}\n",
        headers=auth | {"Content-Type": "text/csv", "X-Bulk-Change": json.dumps(fields)},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["ValidationFailedCount"] == 1 and answer.json()["QueuedCount"] == 0


Probe = Callable[[httpx.AsyncClient, dict[str, str], World], Awaitable[None]]
COLLECTION_PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/api/v1/bulk-changes"): _list,
    ("POST", "/api/v1/bulk-changes"): _submit,
    ("POST", "/api/v1/bulk-changes/validate"): _validate,
    ("POST", "/api/v1/bulk-changes/csv"): _csv,
}


def test_every_api_route_is_covered_by_the_isolation_probes():
    uncovered: list[tuple[str, str, object]] = []
    for method, path, route in api_routes():
        if not isinstance(route, APIRoute) or not path.startswith("/api/"):
            uncovered.append((method, path, "not an API route, not public"))
            continue
        params = {p.name for p in route.dependant.path_params}
        if params:
            if not params <= A_OBJECTS:
                uncovered.append((method, path, sorted(params - A_OBJECTS)))
        elif (method, path) not in COLLECTION_PROBES:
            uncovered.append((method, path, "no probe"))
    assert uncovered == [], "map these routes to tenant A's objects in this test"
    assert len(api_routes()) >= 11


async def _snapshot(sessionmaker, world: World) -> dict[str, list[dict[str, Any]]]:
    """Every row of A's: its bulk changes, device changes, audit trail, outbox, devices."""
    ids = [bulk_id for bulk_id, _ in world.a_changes]
    tables = {
        "bulk_change": select(BulkChange.__table__).where(BulkChange.tenant_id == world.a),
        "device_change": select(DeviceChange.__table__).where(DeviceChange.bulk_change_id.in_(ids)),
        "audit": select(DeviceChangeLog.__table__).where(DeviceChangeLog.bulk_change_id.in_(ids)),
        "outbox": select(OutboxMessage.__table__).where(
            OutboxMessage.body["bulk_change_id"].astext.in_([str(i) for i in ids])
        ),
        "device": select(Device.__table__).where(Device.tenant_id == world.a),
    }
    async with sessionmaker() as s:
        return {
            name: sorted(
                (dict(row._mapping) for row in await s.execute(query)), key=lambda r: str(r)
            )
            for name, query in tables.items()
        }


@pytest.fixture
async def world(factory, sessionmaker) -> World:
    a, b = await factory.tenant(), await factory.tenant()
    provider = await factory.provider()
    (device,) = await factory.devices(a, provider, 1)
    finished = await make_bulk_change(
        sessionmaker,
        a.id,
        provider.id,
        [result("Failed", error_code="TIMEOUT"), result("Success")],
    )
    running = await make_bulk_change(sessionmaker, a.id, provider.id, [result("Queued")])
    b_change, _ = await make_bulk_change(sessionmaker, b.id, provider.id, [result("Success")])
    async with sessionmaker() as s, s.begin():
        for bulk_id, device_ids in (finished, running):
            audit(
                s,
                bulk_change_id=bulk_id,
                device_change_id=device_ids[0],
                step="carrier:activate",
                actor="bulk-worker",
                status="Processing",
                message="sent",
            )
    return World(a.id, b.id, provider.id, [finished, running], device.iccid, b_change)


def _is_hidden(answer: httpx.Response) -> bool:
    """A 404, or a 200 list with nothing in it."""
    if answer.status_code == 404:
        return answer.headers["content-type"] == "application/problem+json"
    return answer.status_code == 200 and answer.json().get("Items") == []


async def test_tenant_b_sees_and_changes_nothing_of_tenant_a_on_any_route(
    jwt_api, issuer, world, sessionmaker
):
    auth = bearer(issuer.token(issuer.key, world.b, sub="tenant-b-operator"))
    before = await _snapshot(sessionmaker, world)
    assert before["bulk_change"] and before["audit"]
    probed = []

    for method, path, route in api_routes():
        assert isinstance(route, APIRoute)
        params = {p.name for p in route.dependant.path_params}
        if not params:
            await COLLECTION_PROBES[(method, path)](jwt_api, auth, world)
            probed.append((method, path))
            continue
        for bulk_id, device_ids in world.a_changes:
            # A's objects by their own ids, and A's device change under B's own bulk change.
            for owner in (bulk_id, world.b_change):
                values = {"bulk_change_id": owner, "device_change_id": device_ids[0]}
                if owner == world.b_change and "device_change_id" not in params:
                    continue
                url = path.format(**{name: values[name] for name in params})
                answer = await jwt_api.request(method, url, headers=auth)
                assert _is_hidden(answer), (method, url, answer.status_code, answer.text[:300])
        probed.append((method, path))

    assert await _snapshot(sessionmaker, world) == before  # nothing of A changed
    assert len(probed) == len(api_routes())
