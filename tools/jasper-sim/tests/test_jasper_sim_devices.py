import asyncio
from datetime import UTC, datetime, timedelta

from jasper_helpers import CC, ICCID, USERNAME, iccid


async def test_edit_changes_status_rate_plan_and_custom_fields_with_audit_rows(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID, "status": "ACTIVATION_READY", "ratePlan": "M2M 1GB"})

    answer = await cc.edit(
        ICCID, status="ACTIVATED", ratePlan="M2M 5GB", accountCustom1="alice", accountCustom2="CC-7"
    )
    details = await cc.details(ICCID)
    trail = (await cc.call("GET", f"/devices/{ICCID}/auditTrails")).json()["deviceAuditTrails"]

    assert (answer.status_code, answer.json()) == (200, {"iccid": ICCID})
    assert details["status"] == "ACTIVATED"
    assert details["ratePlan"] == "M2M 5GB"
    assert (details["accountCustom1"], details["accountCustom2"]) == ("alice", "CC-7")
    assert details["dateActivated"] is not None
    rows = {row["field"]: row for row in trail}
    assert rows["status"]["priorValue"] == "ACTIVATION_READY"
    assert rows["status"]["value"] == "ACTIVATED"
    assert rows["accountCustom1"]["value"] == "alice"
    assert {row["status"] for row in trail} == {"Executed"}
    assert {row["userName"] for row in trail} == {USERNAME}
    assert (await cc.admin("GET", "/edits")).json() == {"edits": {ICCID: 1}, "max": 1}


async def test_status_graph_refusals_have_their_codes_and_change_nothing(cc: CC) -> None:
    await cc.seed_devices(
        {"iccid": iccid(1), "status": "ACTIVATED"}, {"iccid": iccid(2), "status": "RETIRED"}
    )

    back = await cc.edit(iccid(1), status="INVENTORY")
    retired = await cc.edit(iccid(2), status="ACTIVATED")
    bogus = await cc.edit(iccid(1), status="SUSPENDED")
    same = await cc.edit(iccid(1), status="ACTIVATED")

    assert (back.status_code, back.json()["errorCode"]) == (400, "10000029")
    assert (retired.status_code, retired.json()["errorCode"]) == (400, "10000005")
    assert bogus.json()["errorCode"] == "10000005"
    assert same.status_code == 200  # a no-op by default
    assert (await cc.details(iccid(1)))["status"] == "ACTIVATED"
    assert (await cc.details(iccid(2)))["status"] == "RETIRED"
    assert (await cc.admin("GET", "/edits")).json()["max"] == 0


async def test_only_a_purged_sim_goes_back_to_inventory(cc: CC) -> None:
    await cc.seed_devices(
        {"iccid": iccid(1), "status": "PURGED"}, {"iccid": iccid(2), "status": "DEACTIVATED"}
    )

    purged = await cc.edit(iccid(1), status="INVENTORY")
    deactivated = await cc.edit(iccid(2), status="INVENTORY")

    assert purged.status_code == 200
    assert (await cc.details(iccid(1)))["status"] == "INVENTORY"
    assert (deactivated.status_code, deactivated.json()["errorCode"]) == (400, "10000029")
    assert (await cc.details(iccid(2)))["status"] == "DEACTIVATED"


async def test_the_graph_and_the_same_status_answer_are_configurable(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID, "status": "ACTIVATED"})
    await cc.admin(
        "PATCH",
        "/config",
        json={"same_status_code": "10030000", "transitions": {"ACTIVATED": ["RETIRED"]}},
    )

    same = await cc.edit(ICCID, status="ACTIVATED")
    deactivate = await cc.edit(ICCID, status="DEACTIVATED")
    retire = await cc.edit(ICCID, status="RETIRED")

    assert same.json()["errorCode"] == "10030000"
    assert deactivate.json()["errorCode"] == "10000005"
    assert retire.status_code == 200


async def test_bad_edits_are_400_with_the_documented_codes(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID})
    path = f"/devices/{ICCID}"
    far = (datetime.now(UTC) + timedelta(days=200)).isoformat()

    answers = {
        "10000011": await cc.edit(ICCID),
        "10000013": await cc.edit(ICCID, ratePlan="Unknown plan"),
        "10000014": await cc.edit(ICCID, communicationPlan="nope"),
        "10000015": await cc.edit(ICCID, customer="nobody"),
        "10000028": await cc.edit(ICCID, imeiChange="1"),
        "10000012": await cc.edit(ICCID, status="ACTIVATED", effectiveDate=far),
        "10000023": await cc.call(
            "PUT", path, content=b"{not json", headers={"content-type": "application/json"}
        ),
        "20000001": await cc.edit("8901000000000099999", status="ACTIVATED"),
    }

    for code, answer in answers.items():
        assert answer.json()["errorCode"] == code, (code, answer.text)
        assert answer.status_code == (404 if code == "20000001" else 400)
    assert (await cc.details(ICCID))["status"] == "ACTIVATION_READY"


async def test_dated_edit_is_accepted_202_and_applied_when_due(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID, "status": "ACTIVATED"})
    due = datetime.now(UTC) + timedelta(seconds=1)

    answer = await cc.edit(ICCID, status="DEACTIVATED", effectiveDate=due.isoformat())
    before = await cc.details(ICCID)
    pending = (await cc.call("GET", f"/devices/{ICCID}/auditTrails")).json()["deviceAuditTrails"]
    await asyncio.sleep((due - datetime.now(UTC)).total_seconds() + 0.2)
    after = await cc.details(ICCID)
    done = (await cc.call("GET", f"/devices/{ICCID}/auditTrails")).json()["deviceAuditTrails"]

    assert answer.status_code == 202
    assert before["status"] == "ACTIVATED"
    assert [(r["field"], r["value"], r["status"]) for r in pending] == [
        ("status", "DEACTIVATED", "Pending")
    ]
    assert after["status"] == "DEACTIVATED"
    assert done[0]["status"] == "Executed"
    # It took effect at its date, and says so.
    expected = due.strftime("%Y-%m-%d %H:%M:%S")
    assert after["dateUpdated"].startswith(expected)
    assert done[0]["effectiveDate"].startswith(expected)


async def test_search_devices_pages_by_modification_time_oldest_first(cc: CC) -> None:
    await cc.seed_devices(*({"iccid": iccid(n), "status": "ACTIVATED"} for n in range(1, 6)))
    since = datetime.now(UTC).isoformat()
    await asyncio.sleep(0.01)
    for n in (4, 2, 5):  # edited in this order
        await cc.edit(iccid(n), accountCustom1=f"user{n}")
        await asyncio.sleep(0.01)

    missing = await cc.call("GET", "/devices")
    too_big = await cc.call("GET", "/devices", params={"modifiedSince": since, "pageSize": 51})
    first = (
        await cc.call("GET", "/devices", params={"modifiedSince": since, "pageSize": 2})
    ).json()
    second = (
        await cc.call(
            "GET", "/devices", params={"modifiedSince": since, "pageSize": 2, "pageNumber": 2}
        )
    ).json()
    activated = (
        await cc.call(
            "GET",
            "/devices",
            params={"modifiedSince": "2000-01-01T00:00:00+00:00", "status": "ACTIVATED"},
        )
    ).json()

    assert (missing.status_code, missing.json()["errorCode"]) == (400, "10000003")
    assert too_big.status_code == 400
    assert [d["iccid"] for d in first["devices"]] == [iccid(4), iccid(2)]
    assert (first["pageNumber"], first["lastPage"]) == (1, False)
    assert [d["iccid"] for d in second["devices"]] == [iccid(5)]
    assert second["lastPage"] is True
    assert set(first["devices"][0]) == {"iccid", "status", "ratePlan", "communicationPlan"}
    assert len(activated["devices"]) == 5


async def test_audit_trail_history_is_bounded_to_365_days_and_paged(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID, "status": "ACTIVATED"})
    for n in range(3):
        await cc.edit(ICCID, accountCustom3=f"v{n}")

    too_long = await cc.call("GET", f"/devices/{ICCID}/auditTrails", params={"daysOfHistory": 366})
    page = (
        await cc.call(
            "GET", f"/devices/{ICCID}/auditTrails", params={"pageSize": 2, "daysOfHistory": 365}
        )
    ).json()

    assert too_long.json()["errorCode"] == "10000049"
    assert [r["value"] for r in page["deviceAuditTrails"]] == ["v2", "v1"]  # newest first
    assert page["lastPage"] is False
