"""Listing bulk changes: filters, keyset pages, tenant isolation, and the index behind it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from operator_helpers import headers, make_bulk_change, result
from sqlalchemy import text

from devicebulk_intake.operator.cursors import CreatedCursor
from devicebulk_intake.operator.queries import BulkChangeFilters, bulk_changes_query

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Made:
    id: str
    provider_id: int
    created_at: datetime
    created_by: str | None
    change_type: int
    status: str


async def _all_pages(api, tenant_id: int, query: str = "", limit: int = 2) -> list[dict]:
    items, cursor = [], None
    for _ in range(100):
        url = f"/api/v1/bulk-changes?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        answer = await api.get(url, headers=headers(tenant_id))
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["Items"]) <= limit
        items += page["Items"]
        cursor = page.get("NextCursor")
        if not cursor:
            return items
    raise AssertionError("pages never ended")


@pytest.fixture
async def history(factory, sessionmaker):
    """Seven bulk changes of one tenant over two providers; two share their creation time."""
    tenant = await factory.tenant()
    p1, p2 = await factory.provider(), await factory.provider()
    specs = [
        (p1, T0, "jane@example.test", 3, "Success"),
        (p1, T0 + timedelta(hours=1), "Jane@Example.test", 3, "Failed"),
        (p2, T0 + timedelta(hours=2), "bob@example.test", 7, "Queued"),
        (p2, T0 + timedelta(hours=2), "bob@example.test", 3, "Success"),  # the same time
        (p1, T0 + timedelta(days=1), "bob@example.test", 3, "Processing"),
        (p1, T0 + timedelta(days=2), "jane@example.test", 4, "Success"),
        (p2, T0 + timedelta(days=3), None, 3, "Retry"),
    ]
    made = []
    for provider, created_at, created_by, change_type, device_status in specs:
        bulk_id, _ = await make_bulk_change(
            sessionmaker,
            tenant.id,
            provider.id,
            [result(device_status)],
            created_at=created_at,
            created_by=created_by,
            change_type=change_type,
        )
        status = "PROCESSED" if device_status in ("Success", "Failed") else "PROCESSING"
        made.append(Made(str(bulk_id), provider.id, created_at, created_by, change_type, status))
    # Newest first; equal creation times by id, descending (UUIDs compare as PostgreSQL does).
    made.sort(key=lambda m: (m.created_at, uuid.UUID(m.id).bytes), reverse=True)
    return tenant, p1, p2, made


async def test_pages_are_newest_first_without_duplicates_or_gaps(api, history):
    tenant, _, _, made = history
    items = await _all_pages(api, tenant.id, limit=2)
    assert [i["BulkChangeId"] for i in items] == [m.id for m in made]
    oldest = items[-1]
    assert oldest["ChangeTypeName"] == "StatusUpdate" and oldest["CreatedBy"] == "jane@example.test"
    assert oldest["Status"] == "PROCESSED" and oldest["Completions"] == 1
    assert oldest["Progress"] == {"Completed": 1, "Total": 1, "Percent": 100.0}
    newest = items[0]
    assert newest["Status"] == "PROCESSING" and newest["Completions"] == 0
    assert newest["Progress"]["Completed"] == 0


async def test_a_bulk_change_submitted_while_paging_does_not_shift_later_pages(
    api, history, sessionmaker
):
    tenant, p1, _, made = history
    first = (await api.get("/api/v1/bulk-changes?limit=3", headers=headers(tenant.id))).json()
    await make_bulk_change(sessionmaker, tenant.id, p1.id, [result("Queued")])  # the newest now
    rest = await api.get(
        f"/api/v1/bulk-changes?limit=10&cursor={first['NextCursor']}", headers=headers(tenant.id)
    )
    seen = [i["BulkChangeId"] for i in first["Items"] + rest.json()["Items"]]
    assert seen == [m.id for m in made]
    assert rest.json().get("NextCursor") is None


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("&status=PROCESSED", lambda m: m.status == "PROCESSED"),
        ("&change_type=3", lambda m: m.change_type == 3),
        (
            "&created_by=JANE@example.test",
            lambda m: (m.created_by or "").lower() == "jane@example.test",
        ),
        (
            "&created_from=2026-03-01T13:00:00Z&created_to=2026-03-02T12:00:00Z",
            lambda m: T0 + timedelta(hours=1) <= m.created_at < T0 + timedelta(days=1),
        ),
        ("&created_from=2026-03-03T12:00:00", lambda m: m.created_at >= T0 + timedelta(days=2)),
        (
            "&status=PROCESSING&change_type=3",
            lambda m: m.status == "PROCESSING" and m.change_type == 3,
        ),
    ],
    ids=["status", "change-type", "creator-in-any-case", "date-range", "no-zone-is-utc", "both"],
)
async def test_filters_combine_with_pages(api, history, query, wanted):
    tenant, _, _, made = history
    items = await _all_pages(api, tenant.id, query, limit=2)
    expected = [m.id for m in made if wanted(m)]
    assert expected
    assert [i["BulkChangeId"] for i in items] == expected


async def test_service_provider_filter(api, history):
    tenant, _, p2, made = history
    items = await _all_pages(api, tenant.id, f"&service_provider_id={p2.id}", limit=5)
    assert [i["BulkChangeId"] for i in items] == [m.id for m in made if m.provider_id == p2.id]


async def test_a_tenant_lists_only_its_own_bulk_changes(api, history, factory):
    tenant, _, _, _ = history
    other = await factory.tenant()
    page = (await api.get("/api/v1/bulk-changes", headers=headers(other.id))).json()
    assert page["Items"] == [] and page.get("NextCursor") is None
    # A cursor taken to another tenant leads nowhere either.
    first = (await api.get("/api/v1/bulk-changes?limit=1", headers=headers(tenant.id))).json()
    page = (
        await api.get(
            f"/api/v1/bulk-changes?cursor={first['NextCursor']}", headers=headers(other.id)
        )
    ).json()
    assert page["Items"] == []


@pytest.mark.parametrize(
    "query",
    ["cursor=not-a-cursor", "cursor=eyJhIjoxfQ", "cursor=WzFd", "limit=0", "limit=201"],
)
async def test_bad_cursors_and_limits_are_422_problems(api, factory, query):
    tenant = await factory.tenant()
    answer = await api.get(f"/api/v1/bulk-changes?{query}", headers=headers(tenant.id))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    if query.startswith("cursor"):
        assert answer.json()["type"].endswith("/invalid-cursor")


async def test_an_empty_date_range_is_a_422_problem(api, factory):
    tenant = await factory.tenant()
    answer = await api.get(
        "/api/v1/bulk-changes?created_from=2026-03-02T00:00:00Z&created_to=2026-03-01T00:00:00Z",
        headers=headers(tenant.id),
    )
    assert answer.status_code == 422 and "created_from" in answer.json()["detail"]


async def test_listing_needs_a_tenant(api):
    answer = await api.get("/api/v1/bulk-changes")
    assert answer.status_code == 401
    assert answer.json()["type"].endswith("/unauthenticated")


async def test_the_tenant_and_creation_time_index_serves_every_page(sessionmaker):
    """With sequential and bitmap scans ruled out the planner still answers first and later
    pages from ix_bulk_change_tenant_created: the query's shape is one the index serves."""
    queries = [
        bulk_changes_query(1, BulkChangeFilters(), after=None, limit=50),
        bulk_changes_query(1, BulkChangeFilters(), after=CreatedCursor(T0, uuid.uuid4()), limit=50),
        bulk_changes_query(
            1, BulkChangeFilters(status=None, created_from=T0), after=None, limit=50
        ),
    ]
    async with sessionmaker() as session, session.begin():
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        for query in queries:
            sql = query.compile(
                dialect=session.bind.dialect, compile_kwargs={"literal_binds": True}
            )
            plan = "\n".join((await session.execute(text(f"EXPLAIN {sql}"))).scalars())
            assert "Index Scan Backward using ix_bulk_change_tenant_created" in plan, plan
