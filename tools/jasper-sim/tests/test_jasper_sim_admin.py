import json
from pathlib import Path

import httpx
from jasper_helpers import CC, ICCID

from jasper_sim import create_app
from jasper_sim.main import apply_faults, parse_args
from jasper_sim.seed import read_file


async def test_call_log_names_the_account_user_device_and_error_code(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID, "status": "ACTIVATED"})

    await cc.edit(ICCID, status="INVENTORY")
    await cc.details(ICCID)
    log = (await cc.admin("GET", "/calls", params={"iccid": ICCID})).json()
    edits = (
        await cc.admin("GET", "/calls", params={"endpoint": "PUT /rws/api/v1/devices/{iccid}"})
    ).json()

    refused, read = log["calls"]
    assert (refused["method"], refused["status"], refused["errorCode"]) == ("PUT", 400, "10000029")
    assert (refused["account"], refused["user"], refused["iccid"]) == (
        "100020620",
        "api-user",
        ICCID,
    )
    assert (read["endpoint"], read["status"]) == ("GET /rws/api/v1/devices/{iccid}", 200)
    assert [c["index"] for c in edits["calls"]] == [refused["index"]]


async def test_seed_file_and_cli_faults(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(
        json.dumps(
            {
                "config": {"same_status_code": "10030000"},
                "accounts": [
                    {
                        "accountId": "A1",
                        "ratePlans": ["P1"],
                        "users": [{"userName": "u", "apiKey": "k"}],
                        "faults": {"latency_ms": 5},
                    }
                ],
                "devices": [{"accountId": "A1", "iccid": ICCID, "status": "ACTIVATED"}],
            }
        )
    )
    args = parse_args(["--seed", str(seed_file), "--fault", "A1:calls_per_second=5"])

    app = create_app(seed_data=read_file(args.seed))
    apply_faults(app, args.fault)
    sim = app.state.sim

    assert sim.config.same_status_code == "10030000"
    assert sim.state.accounts["A1"].faults.latency_ms == 5
    assert sim.state.accounts["A1"].faults.calls_per_second == 5
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://sim") as c:
        device = (await c.get("/_sim/devices/" + ICCID)).json()
        bad = await c.post("/_sim/devices", json={"accountId": "A1", "devices": [{"iccid": "1"}]})
    assert device["status"] == "ACTIVATED"
    assert bad.status_code == 422
