"""The bench's fixtures: a fresh stack (database, vhost, processes) per phase, its demo data,
and the requests and look-ups the phases make."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from devicebulk_common.crypto import new_key
from devicebulk_common.db.dsn import asyncpg_dsn
from devicebulk_common.db.migrate import upgrade
from devicebulk_common.settings import CommonSettings
from devicebulk_devstack.processes import BIN, Ports, Stack, StackConfig

TENANT, PROVIDER = 1, 4
ACCOUNT = "DEMO-ACCOUNT"  # the account `devicebulk-admin seed-demo` creates
ACTIVATE = "POST /api/m2m/v1/devices/actions/activate"
TOKEN_PATH = "/api/ts/v1/oauth2/token"
HEADERS = {"X-Tenant-Id": str(TENANT), "X-User-Email": "bench@devicebulk.local"}


async def _database(admin_dsn: str, name: str, create: bool) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _rabbitmqctl(*args: str) -> bool:
    try:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)  # noqa: S603, S607
    except (OSError, subprocess.SubprocessError):
        return False
    return True


@contextmanager
def fresh_stack(
    name: str,
    *,
    workers: int = 2,
    extra_env: dict[str, str] | None = None,
    sim_random_seed: int | None = None,
) -> Iterator[tuple[Stack, str]]:
    """Database, vhost, simulator and SMTP sink of this phase; services started by the caller."""
    settings = CommonSettings()
    suffix = uuid.uuid4().hex[:8]
    url = make_url(settings.database_url)
    db_name = f"devicebulk_bench_{name}_{suffix}"
    database_url = url.set(database=db_name).render_as_string(hide_password=False)
    admin_dsn = asyncpg_dsn(url.set(database="postgres").render_as_string(hide_password=False))
    asyncio.run(_database(admin_dsn, db_name, create=True))
    amqp = urlsplit(settings.rabbitmq_url)
    vhost = f"devicebulk-bench-{name}-{suffix}"
    if _rabbitmqctl("add_vhost", vhost):
        _rabbitmqctl("set_permissions", "-p", vhost, amqp.username or "guest", ".*", ".*", ".*")
        rabbitmq_url = urlunsplit(amqp._replace(path="/" + quote(vhost, safe="")))
    else:
        vhost, rabbitmq_url = "", settings.rabbitmq_url
        print("  (rabbitmqctl unavailable: using the configured vhost)")
    upgrade(database_url)
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        config = StackConfig(
            database_url=database_url,
            rabbitmq_url=rabbitmq_url,
            credentials_key=new_key(),
            var_dir=Path(tmp),
            ports=Ports.free(),
            callback_delay_s=0.05,
            workers=workers,
            extra_env={"LOG_LEVEL": "WARNING", **(extra_env or {})},
            sim_random_seed=sim_random_seed,
        )
        stack = Stack(config)
        try:
            stack.start_carrier_and_mail()
            yield stack, database_url
        finally:
            stack.stop()
            if vhost:
                _rabbitmqctl("delete_vhost", vhost)
            asyncio.run(_database(admin_dsn, db_name, create=False))


def admin(stack: Stack, *args: str) -> None:
    subprocess.run(  # noqa: S603
        [str(BIN / "devicebulk-admin"), *args],
        env=stack.config.env(),
        check=True,
        capture_output=True,
    )


def seed(stack: Stack, devices: int, *, with_sim: bool = True) -> list[str]:
    iccids = Path(stack.config.var_dir) / "iccids.txt"
    admin(
        stack,
        "seed-demo",
        "--tenant",
        str(TENANT),
        "--provider",
        str(PROVIDER),
        "--devices",
        str(devices),
        "--sim-url",
        stack.config.sim_url,
        "--write-iccids",
        str(iccids),
        *([] if with_sim else ["--skip-sim"]),
    )
    if with_sim:
        admin(
            stack,
            "register-callback",
            "--provider",
            str(PROVIDER),
            "--url-base",
            stack.config.callbacks_url,
        )
    return iccids.read_text().split()


def activation(iccids: list[str]) -> dict[str, object]:
    return {
        "Devices": iccids,
        "ServiceProviderId": PROVIDER,
        "ChangeType": 3,
        "StatusUpdate": {
            "TargetStatus": "Active",
            "ThingSpaceStatusUpdate": {"ServicePlan": "M2M_4G", "ZipCode": "92127"},
        },
    }


def submit(api: httpx.Client, iccids: list[str]) -> tuple[str, float]:
    start = time.perf_counter()
    answer = api.post("/api/v1/bulk-changes", headers=HEADERS, json=activation(iccids))
    elapsed = time.perf_counter() - start
    answer.raise_for_status()
    return answer.json()["BulkChangeId"], elapsed


def wait_until(check: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done after {timeout_s} s")
        time.sleep(poll_s)


def processed(api: httpx.Client, bulk_id: str) -> bool:
    view = api.get(f"/api/v1/bulk-changes/{bulk_id}", headers=HEADERS).json()
    return view["Status"] in ("PROCESSED", "ERROR")


def sql_scalar(database_url: str, query: str, *args: object) -> object:
    async def run() -> object:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def sim_stats(stack: Stack) -> dict:
    return httpx.get(f"{stack.config.sim_url}/_sim/stats", timeout=30).json()


def sim_calls(stack: Stack) -> list[dict]:
    return httpx.get(f"{stack.config.sim_url}/_sim/calls", timeout=60).json()["calls"]
