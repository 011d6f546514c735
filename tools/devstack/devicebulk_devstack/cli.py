"""`devicebulk-devstack run` (what `make run` does) and `devicebulk-devstack demo` (`make demo`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from devicebulk_common.crypto import new_key
from devicebulk_common.db.dsn import asyncpg_dsn
from devicebulk_common.db.migrate import upgrade
from devicebulk_common.settings import CommonSettings
from devicebulk_devstack.processes import BIN, Ports, Stack, StackConfig

VAR = Path("var")
STATE = VAR / "stack.json"
DEMO_TENANT, DEMO_PROVIDER, DEMO_DEVICES = 1, 4, 1000
# The second carrier: POD19, a Cisco Control Center provider of the same tenant, at jasper-sim.
JASPER_PROVIDER = 19
ICCID_FILES = {"thingspace": VAR / "demo-iccids.txt", "jasper": VAR / "demo-iccids-jasper.txt"}


def ensure_env_file(path: Path = Path(".env")) -> None:
    """A local .env with a generated credentials key (never committed)."""
    if path.exists() and "CREDENTIALS_KEY=" in path.read_text():
        return
    with path.open("a") as f:
        f.write(f"CREDENTIALS_KEY={new_key()}\n")
    print(f"wrote a new CREDENTIALS_KEY to {path}")


async def recreate_database(database_url: str) -> None:
    url = make_url(database_url)
    admin_dsn = asyncpg_dsn(str(url.set(database="postgres")))
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{url.database}"')
    finally:
        await conn.close()


def admin(config: StackConfig, *args: str) -> None:
    subprocess.run([str(BIN / "devicebulk-admin"), *args], env=config.env(), check=True)  # noqa: S603


def run(args: argparse.Namespace) -> None:
    ensure_env_file()
    settings = CommonSettings()
    config = StackConfig(
        database_url=settings.database_url,
        rabbitmq_url=settings.rabbitmq_url,
        credentials_key=settings.credentials_key.get_secret_value(),
        var_dir=VAR.resolve(),
        ports=Ports(),
        log_format="console",
        workers=args.workers,
        auth_mode="jwt",
    )
    print(f"database {make_url(config.database_url).database}: fresh demo database")
    asyncio.run(recreate_database(config.database_url))
    upgrade(config.database_url)
    stack = Stack(config)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start_carrier_and_mail()
        stack.start_jasper_sim()
        admin(
            config,
            "seed-demo",
            "--tenant",
            str(DEMO_TENANT),
            "--provider",
            str(DEMO_PROVIDER),
            "--devices",
            str(DEMO_DEVICES),
            "--sim-url",
            config.sim_url,
            "--write-iccids",
            str(ICCID_FILES["thingspace"]),
            "--examples",
            "--jasper-sim-url",
            config.jasper_sim_url,
            "--write-jasper-iccids",
            str(ICCID_FILES["jasper"]),
        )
        admin(
            config,
            "register-callback",
            "--provider",
            str(DEMO_PROVIDER),
            "--url-base",
            config.callbacks_url,
        )
        stack.start_services()
        STATE.write_text(
            json.dumps(
                {
                    "intake": config.intake_url,
                    "mail": str(config.mail_dir),
                    "jwt_dir": str(config.jwt_dir),
                }
            )
        )
        print_banner(config)
        while not stopping:
            stack.check_alive()
            time.sleep(0.5)
    finally:
        print("\nstopping the stack ...")
        stack.stop()
        STATE.unlink(missing_ok=True)
        print("stopped.")


def activation(iccids: list[str]) -> dict[str, object]:
    """The demo's request: activate these devices of the demo provider."""
    return {
        "Devices": iccids,
        "ServiceProviderId": DEMO_PROVIDER,
        "ChangeType": 3,
        "StatusUpdate": {
            "TargetStatus": "Active",
            "ThingSpaceStatusUpdate": {"ServicePlan": "M2M_4G", "ZipCode": "92127"},
        },
    }


def jasper_activation(iccids: list[str]) -> dict[str, object]:
    """`make demo CARRIER=jasper`: these POD19 SIMs (ACTIVATION_READY) to ACTIVATED, as the
    portal asks it of a Control Center provider."""
    return {
        "Devices": iccids,
        "ServiceProviderId": JASPER_PROVIDER,
        "ChangeType": 3,
        "StatusUpdate": {
            "TargetStatus": "Active",
            "JasperStatusUpdate": {"ReasonCode": "CUSTOMER_REQUEST"},
        },
    }


REQUESTS = {"thingspace": activation, "jasper": jasper_activation}


def print_banner(config: StackConfig) -> None:
    iccids = ICCID_FILES["thingspace"].read_text().split()[:2]
    body = json.dumps(activation(iccids))
    print(
        f"""
devicebulk is running.
  API docs:          {config.intake_url}/docs
  token issuer:      {config.jwks_url} (keys in {config.jwt_dir})
  ThingSpace sim:    {config.sim_url}/_sim/stats  (provider {DEMO_PROVIDER})
  Control Center sim: {config.jasper_sim_url}/_sim/stats  (provider {JASPER_PROVIDER}, POD19)
  emails land in:    {config.mail_dir}
  logs:              {config.var_dir / "logs"}

Try it (a bearer token for tenant {DEMO_TENANT}, valid an hour, every scope):
  TOKEN=$(.venv/bin/devicebulk-admin dev-token --tenant {DEMO_TENANT} --email you@example.com)
  curl -s -X POST {config.intake_url}/api/v1/bulk-changes \\
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
    -d '{body}'

or, in another terminal: make demo   (1,000 activations with a progress bar)
                    make demo CARRIER=jasper   (1,000 POD19 SIMs to ACTIVATED)
Ctrl-C stops everything.
""",
        flush=True,
    )


def demo(args: argparse.Namespace) -> None:
    if not STATE.exists():
        sys.exit("The stack is not running: start it with `make run` in another terminal.")
    state = json.loads(STATE.read_text())
    iccids_file = ICCID_FILES[args.carrier]
    if not iccids_file.exists():
        sys.exit(f"{iccids_file} is missing: restart `make run` (it seeds both carriers).")
    iccids = iccids_file.read_text().split()[: args.devices]
    mail_dir = Path(state["mail"])
    mails_before = set(mail_dir.glob("*.eml"))
    token = subprocess.run(  # noqa: S603 (our own console script)
        [
            str(BIN / "devicebulk-admin"),
            "dev-token",
            "--tenant",
            str(DEMO_TENANT),
            "--email",
            "demo@devicebulk.local",
            "--key-dir",
            state["jwt_dir"],
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=state["intake"], timeout=60) as api:
        start = time.monotonic()
        answer = api.post(
            "/api/v1/bulk-changes",
            headers=headers,
            json=REQUESTS[args.carrier](iccids),
        )
        if answer.status_code != 202:
            sys.exit(f"submit refused ({answer.status_code}): {answer.text}")
        accepted = answer.json()
        bulk_id = accepted["BulkChangeId"]
        print(
            f"bulk change {bulk_id}: {accepted['QueuedCount']} queued, "
            f"{accepted['ValidationFailedCount']} failed validation "
            f"(answered in {time.monotonic() - start:.2f} s)"
        )
        while True:
            view = api.get(f"/api/v1/bulk-changes/{bulk_id}", headers=headers).json()
            progress = view["Progress"]
            bar = "#" * int(progress["Percent"] / 2.5)
            sys.stdout.write(
                f"\r[{bar:<40}] {progress['Completed']:>6}/{progress['Total']} {view['Status']:<10}"
            )
            sys.stdout.flush()
            if view["Status"] in ("PROCESSED", "ERROR"):
                break
            time.sleep(0.25)
        elapsed = time.monotonic() - start
    print(f"\n\n{view['Status']} in {elapsed:.1f} s end to end")
    for status, n in sorted(view["Counts"].items()):
        print(f"  {status:<18} {n}")
    deadline = time.monotonic() + 30
    new: set[Path] = set()
    while time.monotonic() < deadline and not new:
        new = set(mail_dir.glob("*.eml")) - mails_before
        time.sleep(0.2)
    print(f"email: {sorted(new)[-1] if new else 'none yet (see var/logs/notifier.log)'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="devicebulk-devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="start the whole stack on this machine (make run)")
    run_p.add_argument("--workers", type=int, default=2, help="bulk-worker processes")
    demo_p = sub.add_parser("demo", help="1,000 activations against the running stack")
    demo_p.add_argument("--devices", type=int, default=DEMO_DEVICES)
    demo_p.add_argument(
        "--carrier",
        choices=sorted(REQUESTS),
        default="thingspace",
        help="the demo provider (4, ThingSpace) or POD19 (19, Cisco Control Center)",
    )
    sub.add_parser("bench", help="the performance benchmarks (make bench)", add_help=False)
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["bench"]:
        from devicebulk_devstack import bench

        bench.main(argv[1:])
        return
    args = parser.parse_args(argv)
    {"run": run, "demo": demo}[args.command](args)


if __name__ == "__main__":
    main()
