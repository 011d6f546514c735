"""How much of a Control Center account's calls-per-second cap the adapter alone uses, with
several processes sharing one account through its gate (`carriers/jasper/gate.py`, built as the
worker builds it), against a real `jasper-sim` process that answers 40000029 past its cap or for
a second call in flight.

    python -m devicebulk_devstack.jasper_cap --devices 200 --processes 2 --cap 5

Each process edits its share of the devices (status DEACTIVATED) at once; the figures come from
the simulator's call log. A throwaway database is made and dropped; every port is a free one.
The whole pipeline (intake, workers, read-backs) is measured by `devicebulk-devstack bench
--only jasper`; this isolates the adapter and its gate.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from devicebulk_common.carriers import DeviceRef
from devicebulk_common.carriers.jasper import INTEGRATION, JasperAdapter, JasperConfig, shared_gate
from devicebulk_common.carriers.shared_tokens import SharedTokenCache
from devicebulk_common.crypto import new_key
from devicebulk_common.db.engine import create_engine
from devicebulk_common.db.migrate import upgrade
from devicebulk_common.models import ServiceProvider
from devicebulk_common.settings import CommonSettings
from devicebulk_devstack.processes import BIN, free_port
from devicebulk_devstack.testdata import make_iccid

ACCOUNT, USERNAME, API_KEY = "100020620", "bench-user", "bench-api-key-0001"
EDIT = "PUT /rws/api/v1/devices/{iccid}"


async def _worker(args: argparse.Namespace, iccids: list[str]) -> None:
    engine = create_engine(args.database_url, pool_size=1, max_overflow=0)
    config = JasperConfig(calls_per_second=args.cap, rate_headroom=args.headroom)
    provider = ServiceProvider(
        integration=INTEGRATION, base_url=args.base_url, account_name=ACCOUNT, id=1
    )
    async with httpx.AsyncClient(timeout=30) as http:
        adapter = JasperAdapter(
            http,
            base_url=args.base_url,
            account_name=ACCOUNT,
            username=USERNAME,
            api_key=API_KEY,
            refusal_cache=SharedTokenCache(engine, credentials_key=new_key()),
            config=config,
            gate=shared_gate(engine, provider, config, max_wait_s=3600),
        )
        await asyncio.gather(*(adapter.set_status(DeviceRef(i), "DEACTIVATED") for i in iccids))
    await engine.dispose()


async def _database(admin_dsn: str, name: str, create: bool) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _wait_http(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def run(args: argparse.Namespace) -> dict[str, object]:
    url = make_url(CommonSettings().database_url)
    db_name = f"devicebulk_jaspercap_{uuid.uuid4().hex[:8]}"
    admin_dsn = url.set(drivername="postgresql", database="postgres").render_as_string(False)
    database_url = url.set(database=db_name).render_as_string(hide_password=False)
    asyncio.run(_database(admin_dsn, db_name, create=True))
    port = free_port()
    sim = subprocess.Popen(  # noqa: S603
        [str(BIN / "jasper-sim"), "--port", str(port), "--log-level", "warning"]
    )
    temp = tempfile.TemporaryDirectory(prefix="jaspercap-")
    workdir = Path(temp.name)
    try:
        upgrade(database_url)
        root = f"http://127.0.0.1:{port}"
        _wait_http(f"{root}/_sim/health")
        faults = {"calls_per_second": args.cap, "max_concurrent": 1, "rate_limit_status": 400}
        account = {
            "accountId": ACCOUNT,
            "users": [{"userName": USERNAME, "apiKey": API_KEY}],
            "faults": faults,
        }
        httpx.post(f"{root}/_sim/accounts", json=account).raise_for_status()
        iccids = [make_iccid(9_000_000 + n) for n in range(args.devices)]
        devices = [{"iccid": i, "status": "ACTIVATED"} for i in iccids]
        body = {"accountId": ACCOUNT, "devices": devices}
        httpx.post(f"{root}/_sim/devices", json=body).raise_for_status()
        workers = []
        for n in range(args.processes):
            part = workdir / f"iccids-{n}.json"
            part.write_text(json.dumps(iccids[n :: args.processes]))
            command = [sys.executable, "-m", "devicebulk_devstack.jasper_cap", "worker"]
            command += ["--database-url", database_url, "--base-url", f"{root}/rws/api/v1"]
            command += ["--iccids", str(part), "--cap", str(args.cap)]
            command += ["--headroom", str(args.headroom)]
            workers.append(subprocess.Popen(command))  # noqa: S603
        codes = [w.wait() for w in workers]
        if any(codes):
            raise SystemExit(f"a worker process failed: exit codes {codes}")
        stats = httpx.get(f"{root}/_sim/stats").json()
        calls = httpx.get(f"{root}/_sim/calls", params={"endpoint": EDIT}).json()["calls"]
    finally:
        sim.terminate()
        sim.wait(10)
        asyncio.run(_database(admin_dsn, db_name, create=False))
        temp.cleanup()
    done = sorted(datetime.fromisoformat(c["timestamp"]) for c in calls if c["status"] == 200)
    arrivals = sorted(datetime.fromisoformat(c["received_at"]) for c in calls)
    cap = int(args.cap)
    # The tightest stretch of cap+1 arrivals: under one second means the carrier's window saw
    # more than its cap (the simulator's arrival times).
    spans = [(arrivals[i + cap] - arrivals[i]).total_seconds() for i in range(len(arrivals) - cap)]
    gaps = sorted((b - a).total_seconds() for a, b in itertools.pairwise(arrivals))
    span = (done[-1] - done[0]).total_seconds() if len(done) > 1 else 0.0
    rate = (len(done) - 1) / span if span else 0.0
    return {
        "devices": args.devices,
        "processes": args.processes,
        "cap_per_s": args.cap,
        "headroom": args.headroom,
        "worker_exit_codes": codes,
        "edits_ok": len(done),
        "seconds_first_to_last": round(span, 2),
        "calls_per_s": round(rate, 3),
        "share_of_cap": round(rate / args.cap, 4),
        "rate_limited_40000029": stats["by_error_code"].get("40000029", 0),
        "tightest_span_of_cap_plus_one_s": round(min(spans), 3) if spans else None,
        "gap_s_min_p1_p50": [
            round(gaps[0], 3),
            round(gaps[len(gaps) // 100], 3),
            round(gaps[len(gaps) // 2], 3),
        ]
        if gaps
        else None,
        "max_in_flight": stats["max_in_flight"][ACCOUNT],
        "max_edits_per_device": stats["max_edits_per_device"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="jasper_cap", description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="run", choices=("run", "worker"))
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--cap", type=float, default=5.0, help="the account's calls per second")
    parser.add_argument(
        "--headroom", type=float, default=JasperConfig().rate_headroom, help="share of the cap"
    )
    parser.add_argument("--database-url")
    parser.add_argument("--base-url")
    parser.add_argument("--iccids")
    args = parser.parse_args(argv)
    if args.mode == "worker":
        asyncio.run(_worker(args, json.loads(Path(args.iccids).read_text())))
        return
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
