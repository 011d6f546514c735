import json
from pathlib import Path

import httpx
from sim_helpers import ACCOUNT, TS, dev

from thingspace_sim import create_app
from thingspace_sim.main import apply_faults, config_overrides, parse_args
from thingspace_sim.seed import read_file


async def test_call_log_records_account_devices_and_tokens(ts: TS) -> None:
    await ts.admin("POST", "/reset")
    await ts.seed_devices({"iccid": "71", "state": "active", "servicePlan": "P"})

    await ts.call("POST", "/devices/actions/suspend", json={"devices": [dev("71")]})
    await ts.token()
    calls = (await ts.admin("GET", "/calls")).json()
    stats = (await ts.admin("GET", "/stats")).json()
    later = (await ts.admin("GET", f"/calls?since={calls['next']}")).json()

    suspend, token = calls["calls"]
    assert suspend["method"] == "POST"
    assert suspend["path"] == "/api/m2m/v1/devices/actions/suspend"
    assert (suspend["account"], suspend["status"], suspend["devices"]) == (ACCOUNT, 200, 1)
    assert (suspend["access_token"], suspend["session_token"]) == (ts.access, ts.session)
    assert token["access_token"] == ts.access
    assert stats["by_endpoint"]["POST /api/m2m/v1/devices/actions/suspend"] == 1
    assert stats["token_fetches"] == 1
    assert later["calls"] == []


async def test_seed_file_and_cli_faults(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(
        json.dumps(
            {
                "config": {"page_size": 10},
                "accounts": [
                    {
                        "accountName": "A1",
                        "client_key": "k",
                        "client_secret": "s",
                        "username": "u",
                        "password": "p",
                        "faults": {"latency_ms": 5},
                    }
                ],
                "devices": [{"accountName": "A1", "iccid": "81", "state": "active"}],
            }
        )
    )
    args = parse_args(
        ["--seed", str(seed_file), "--page-size", "50", "--fault", "A1:error_rate=0.5"]
    )

    app = create_app(seed_data=read_file(args.seed))
    sim = app.state.sim
    for key, value in config_overrides(args).items():
        setattr(sim.config, key, value)
    apply_faults(app, args.fault)

    assert sim.config.page_size == 50
    assert sim.state.accounts["A1"].faults.latency_ms == 5
    assert sim.state.accounts["A1"].faults.error_rate == 0.5
    assert len(sim.state.devices["81"].mdn) == 10
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://sim") as c:
        device = (await c.get("/_sim/devices/81")).json()
    assert device["state"] == "active"
