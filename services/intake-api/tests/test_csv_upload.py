"""POST /api/v1/bulk-changes/csv: the devices in a text/csv body, the change in X-Bulk-Change."""

from __future__ import annotations

import json

import pytest
from intake_helpers import carrier_plan, fresh_iccid, headers, stored, table_counts

from devicebulk_common.contracts import DeviceStatus

CSV = "/api/v1/bulk-changes/csv"


def upload_headers(tenant, change: dict, **extra: str) -> dict[str, str]:
    return headers(
        tenant, **{"Content-Type": "text/csv", "X-Bulk-Change": json.dumps(change), **extra}
    )


@pytest.fixture
async def fleet(factory):
    tenant = await factory.tenant()
    provider = await factory.provider()
    devices = await factory.devices(
        tenant, provider, 3, status=DeviceStatus.ACTIVE, msisdn="15550009999"
    )
    return tenant, provider, devices


async def test_a_csv_of_iccids_is_judged_like_the_same_json(api, sessionmaker, fleet):
    tenant, provider, devices = fleet
    plan = await carrier_plan(sessionmaker, provider.id)
    change = {
        "ServiceProviderId": provider.id,
        "ChangeType": 7,
        "CarrierRatePlanUpdate": {"CarrierRatePlan": plan},
    }
    # A spreadsheet's export: a byte-order mark, a column it does not need, CRLF, a blank line.
    good = devices[2].iccid
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)  # a wrong check digit, always
    body = (
        "\ufeffName,iccid\r\n"
        f"first,{devices[0].iccid}\r\n"
        "\r\n"
        f'"second, quoted",{devices[1].iccid}\r\n'
        f"bad luhn,{bad}\r\n"
    ).encode()
    answer = await api.post(CSV, content=body, headers=upload_headers(tenant, change))
    assert answer.status_code == 202, answer.text
    assert answer.json()["DeviceCount"] == 3 and answer.json()["QueuedCount"] == 2
    rows = await stored(sessionmaker, answer.json()["BulkChangeId"])
    assert rows[devices[0].iccid].params["service_plan"] == plan
    assert rows[devices[1].iccid].status == "Queued"
    assert rows[bad].status == "ValidationFailed"


async def test_a_csv_of_identifier_pairs_for_change_type_8(api, sessionmaker, fleet):
    tenant, provider, devices = fleet
    new = fresh_iccid()
    body = (
        "IdentifierType,OldICCID,NewICCID,OldIMEI,NewIMEI,AddCustomerRatePlan\n"
        f"ICCID,{devices[0].iccid},{new},{devices[0].imei},,false\n"
    )
    answer = await api.post(
        CSV,
        content=body,
        headers=upload_headers(tenant, {"ServiceProviderId": provider.id, "ChangeType": 8}),
    )
    assert answer.status_code == 202, answer.text
    rows = await stored(sessionmaker, answer.json()["BulkChangeId"])
    assert rows[devices[0].iccid].params["new_iccid"] == new


async def test_unreadable_rows_are_listed_by_line_and_nothing_is_stored(api, sessionmaker, fleet):
    tenant, provider, devices = fleet
    body = (
        "IdentifierType,OldICCID,NewICCID,OldIMEI,NewIMEI,AddCustomerRatePlan,CustomerRatePlanId\n"
        f"ICCID,{devices[0].iccid},{fresh_iccid()},,,false,\n"
        f"EID,{devices[1].iccid},{fresh_iccid()},,,,\n"
        f"ICCID,{devices[2].iccid},{fresh_iccid()},,,maybe,\n"
        f"ICCID,{devices[2].iccid},{fresh_iccid()},,,true,gold\n"
        "ICCID,1,2,3,4,true,5,surplus\n"
    )
    before = await table_counts(sessionmaker)
    answer = await api.post(
        CSV,
        content=body,
        headers=upload_headers(tenant, {"ServiceProviderId": provider.id, "ChangeType": 8}),
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"].endswith("/invalid-csv") and problem["ErrorCount"] == 4
    assert [e["line"] for e in problem["errors"]] == [3, 4, 5, 6]
    assert "IdentifierType" in problem["errors"][0]["msg"]
    assert problem["errors"][1]["msg"] == "AddCustomerRatePlan must be true or false"
    assert "CustomerRatePlanId" in problem["errors"][2]["msg"]
    assert problem["errors"][3]["msg"] == "8 fields, the header has 7"
    assert await table_counts(sessionmaker) == before


async def test_an_empty_iccid_and_a_missing_column_are_refused(api, fleet):
    tenant, provider, devices = fleet
    change = {"ServiceProviderId": provider.id, "ChangeType": 5}
    empty = await api.post(
        CSV,
        content=f"ICCID,Note\n{devices[0].iccid},a\n,b\n",
        headers=upload_headers(tenant, change),
    )
    assert empty.status_code == 422
    assert empty.json()["errors"] == [{"line": 3, "msg": "ICCID is empty"}]
    no_column = await api.post(
        CSV, content=f"Device\n{devices[0].iccid}\n", headers=upload_headers(tenant, change)
    )
    assert no_column.status_code == 422
    assert no_column.json()["errors"] == [{"line": 1, "msg": "missing column ICCID"}]


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "X-Bulk-Change header"),
        ("{not json", "not valid JSON"),
        ('["a"]', "must be a JSON object"),
        ('{"ServiceProviderId": 1, "ChangeType": 5, "Devices": ["x"]}', "leave Devices out"),
    ],
)
async def test_the_change_header_must_be_a_json_request_without_devices(api, fleet, header, detail):
    tenant, *_ = fleet
    sent = headers(tenant, **{"Content-Type": "text/csv"})
    if header is not None:
        sent["X-Bulk-Change"] = header
    answer = await api.post(CSV, content="ICCID\n1\n", headers=sent)
    assert answer.status_code == 422
    assert detail in answer.json()["detail"]


async def test_an_invalid_change_in_the_header_lists_its_errors(api, fleet):
    tenant, *_ = fleet
    answer = await api.post(
        CSV,
        content="ICCID\n1\n",
        headers=upload_headers(tenant, {"ChangeType": 5}),
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["header", "X-Bulk-Change", "ServiceProviderId"]


async def test_a_body_that_is_not_csv_is_415(api, fleet):
    tenant, _, devices = fleet
    answer = await api.post(
        CSV,
        json={"Devices": [devices[0].iccid]},
        headers=headers(tenant, **{"X-Bulk-Change": '{"ServiceProviderId": 1, "ChangeType": 5}'}),
    )
    assert answer.status_code == 415
    assert answer.json()["type"].endswith("/unsupported-media-type")


async def test_a_repeated_csv_upload_with_its_key_answers_the_first_answer(api, fleet):
    tenant, provider, devices = fleet
    change = {
        "ServiceProviderId": provider.id,
        "ChangeType": 3,
        "StatusUpdate": {"TargetStatus": "Suspend"},
    }
    body = "ICCID\n" + "\n".join(d.iccid for d in devices) + "\n"
    sent = upload_headers(tenant, change, **{"Idempotency-Key": "upload-1"})
    first = await api.post(CSV, content=body, headers=sent)
    again = await api.post(CSV, content=body, headers=sent)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"


async def test_a_csv_larger_than_the_device_limit_allows_is_413(api, fleet):
    tenant, provider, _ = fleet
    body = "ICCID\n" + "89148000008245116615\n" * 15_000  # the test app's limit is 1,000
    answer = await api.post(
        CSV,
        content=body,
        headers=upload_headers(tenant, {"ServiceProviderId": provider.id, "ChangeType": 5}),
    )
    assert answer.status_code == 413
    assert answer.json()["type"].endswith("/too-many-devices")


@pytest.mark.parametrize(
    ("body", "line", "msg"),
    [
        (
            b'ICCID\n89148000008245116615\n"89148000008245116623\n89148000008245116631\n',
            3,
            "unterminated quote",
        ),
        (b"ICCID\n89148000008245116615\n89148\xff000008245116623\n", 3, "not UTF-8"),
    ],
    ids=["unterminated quote", "bad encoding"],
)
async def test_an_unreadable_upload_is_a_422_naming_the_line_and_stores_nothing(
    api, sessionmaker, fleet, body, line, msg
):
    tenant, provider, devices = fleet
    body = body.replace(b"89148000008245116615", devices[0].iccid.encode())
    before = await table_counts(sessionmaker)
    answer = await api.post(
        CSV,
        content=body,
        headers=upload_headers(tenant, {"ServiceProviderId": provider.id, "ChangeType": 5}),
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["type"].endswith("/invalid-csv")
    assert problem["errors"][0]["line"] == line and msg in problem["errors"][0]["msg"]
    assert await table_counts(sessionmaker) == before
