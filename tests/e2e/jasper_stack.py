"""The Control Center end-to-end module's own stack: its database and RabbitMQ vhost, made and
removed around the module, and every process (ThingSpace's simulator and the SMTP sink as in
every stack, jasper-sim, the relay and the four services)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import asyncpg

from devicebulk_common.db.migrate import upgrade
from devicebulk_devstack.processes import Ports, Stack, StackConfig
from tests.e2e.conftest import TEST_STACK_ENV

PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_HOST = os.environ.get("TEST_PG_HOST", "postgres@127.0.0.1:5432")
AMQP_HOST = os.environ.get("TEST_AMQP_HOST", "guest:guest@127.0.0.1:5672")

# The worker of this stack retries quickly (5xx faults), and reads back soon an edit whose
# confirmation it could not read (the watchdog of a device change left awaiting).
STACK_ENV = {
    **TEST_STACK_ENV,
    "WORKER_BATCH_WAIT_S": "0.1",
    "WORKER_RETRY_BASE_S": "0.3",
    "WORKER_RETRY_MAX_S": "3",
    "WORKER_MAX_ATTEMPTS": "8",
    "WORKER_CALLBACK_TIMEOUT_S": "3",
    "WORKER_WATCHDOG_INTERVAL_S": "1",
}


async def _admin_sql(sql: str) -> None:
    pg = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await pg.execute(sql)
    finally:
        await pg.close()


@asynccontextmanager
async def module_database(run_id: str) -> AsyncIterator[str]:
    """A migrated database of its own; its URL."""
    name = f"devicebulk_test_{run_id}_jasper_{uuid.uuid4().hex[:6]}"
    await _admin_sql(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://{PG_HOST}/{name}"
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def module_vhost(run_id: str) -> Iterator[str]:
    """A RabbitMQ vhost of its own; its AMQP URL."""
    name = f"devicebulk_test_{run_id}_jasper_{uuid.uuid4().hex[:6]}"
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield f"amqp://{AMQP_HOST}/{name}"
    finally:
        _rabbitmqctl("delete_vhost", name)


@contextmanager
def running_stack(
    database_url: str, amqp_url: str, credentials_key: str, var_dir: Path
) -> Iterator[Stack]:
    config = StackConfig(
        database_url=database_url,
        rabbitmq_url=amqp_url,
        credentials_key=credentials_key,
        var_dir=var_dir,
        ports=Ports.free(),
        extra_env=STACK_ENV,
        sim_random_seed=19,  # repeatable fault draws
    )
    stack = Stack(config)
    try:
        stack.start_carrier_and_mail()
        stack.start_jasper_sim()
        stack.start_services()
        yield stack
    finally:
        stack.stop()
