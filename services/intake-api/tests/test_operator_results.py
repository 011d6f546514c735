"""The results CSV: one row per device change, streamed, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import uuid

from operator_helpers import headers, make_bulk_change, result
from sqlalchemy import text

from devicebulk_intake.operator.results import HEADER, safe_cell, stream_results


def _rows(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


async def test_csv_has_one_row_per_device_change_in_submission_order(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    active, other = await factory.devices(tenant, provider, 2, msisdn="15551230000")
    bulk_id, _ = await make_bulk_change(
        sessionmaker,
        tenant.id,
        provider.id,
        [
            result(
                "Success",
                device_id=active.id,
                iccid=active.iccid,
                attempts=1,
                carrier_request_id="req-42",
            ),
            result(
                "Failed",
                device_id=other.id,
                iccid=other.iccid,
                attempts=3,
                error_code="INVALID_SERVICE_PLAN",
                error_message="Service plan, not allowed",
            ),
            result("ValidationFailed", iccid="123", validation_error="ICCID must be 19 digits"),
            result("Queued", iccid="89148000000000000001"),
        ],
    )
    answer = await api.get(
        f"/api/v1/bulk-changes/{bulk_id}/results.csv", headers=headers(tenant.id)
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        answer.headers["content-disposition"] == f'attachment; filename="bulk-change-{bulk_id}.csv"'
    )
    assert answer.text.splitlines()[0] == ",".join(HEADER)
    rows = _rows(answer.text)
    assert [r["iccid"] for r in rows] == [active.iccid, other.iccid, "123", "89148000000000000001"]
    assert rows[0] | {"completed_at": ""} == {
        "iccid": active.iccid,
        "status": "Success",
        "error_code": "",
        "error_message": "",
        "msisdn": "15551230000",
        "carrier_request_id": "req-42",
        "attempts": "1",
        "completed_at": "",
    }
    assert rows[0]["completed_at"].endswith("Z") and "T" in rows[0]["completed_at"]
    assert rows[1]["error_code"] == "INVALID_SERVICE_PLAN"
    assert rows[1]["error_message"] == "Service plan, not allowed"
    assert rows[1]["attempts"] == "3"
    assert rows[2]["status"] == "ValidationFailed"
    assert rows[2]["error_message"] == "ICCID must be 19 digits"
    assert rows[3]["completed_at"] == "" and rows[3]["msisdn"] == ""


async def test_csv_neutralises_formulas_in_text(api, factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, _ = await make_bulk_change(
        sessionmaker,
        tenant.id,
        provider.id,
        [
            result(
                "Failed",
                iccid="=1+1",
                error_code="@SUM(A1)",
                error_message='=HYPERLINK("http://evil.test","click")',
                carrier_request_id="-2+3",
            ),
            result("Failed", iccid="+15551234567", error_code="-42", error_message="\tcmd"),
        ],
    )
    answer = await api.get(
        f"/api/v1/bulk-changes/{bulk_id}/results.csv", headers=headers(tenant.id)
    )
    first, second = _rows(answer.text)
    assert first["iccid"] == "'=1+1"
    assert first["error_code"] == "'@SUM(A1)"
    assert first["error_message"] == '\'=HYPERLINK("http://evil.test","click")'
    assert first["carrier_request_id"] == "'-2+3"
    # Plain numbers are left alone; other text starting with a control character is not.
    assert second["iccid"] == "+15551234567" and second["error_code"] == "-42"
    assert second["error_message"] == "'\tcmd"


def test_safe_cell() -> None:
    assert safe_cell(None) == ""
    assert safe_cell("plain") == "plain"
    assert safe_cell("-") == "'-"
    assert safe_cell("3.5") == "3.5"
    assert safe_cell("\rx") == "'\rx"


async def test_csv_of_another_tenant_is_404(api, factory, sessionmaker):
    tenant, intruder = await factory.tenant(), await factory.tenant()
    provider = await factory.provider()
    bulk_id, _ = await make_bulk_change(sessionmaker, tenant.id, provider.id, [result("Queued")])
    answer = await api.get(
        f"/api/v1/bulk-changes/{bulk_id}/results.csv", headers=headers(intruder.id)
    )
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    answer = await api.get(
        f"/api/v1/bulk-changes/{uuid.uuid4()}/results.csv", headers=headers(tenant.id)
    )
    assert answer.status_code == 404


async def test_100000_devices_stream_in_bounded_chunks(factory, sessionmaker):
    tenant = await factory.tenant()
    provider = await factory.provider()
    bulk_id, _ = await make_bulk_change(sessionmaker, tenant.id, provider.id)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            text(
                """
                INSERT INTO device_change (bulk_change_id, iccid, status, attempts,
                                           error_code, completed_at)
                SELECT :id, '8914800' || lpad(g::text, 13, '0'), 'Failed', 3, 'E' || g, now()
                FROM generate_series(1, 100000) AS g
                """
            ),
            {"id": bulk_id},
        )

    chunks = [c async for c in stream_results(sessionmaker, bulk_id, rows_per_chunk=5000)]
    # The header, then one chunk per 5,000 rows, each written as its rows arrive from a
    # server-side cursor: never all 100,000 at once. (The route streams these chunks as they come.)
    assert len(chunks) == 1 + 20
    assert max(len(c) for c in chunks) < 5000 * 100
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == 1 + 100_000
    assert lines[1].startswith("89148000000000000001,Failed,E1,")
    assert lines[-1].startswith("89148000000000100000,Failed,E100000,")
