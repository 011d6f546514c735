"""End-to-end fixtures: every component as its own process on real ports, against this
session's own database and RabbitMQ vhost."""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_devstack.processes import BIN, Ports, Stack, StackConfig


@pytest.fixture
async def e2e_sessionmaker(private_database_url):
    """The end-to-end test's own database (its relay and workers see nothing of other tests)."""
    engine = create_engine(private_database_url, pool_size=2)
    yield create_sessionmaker(engine)
    await engine.dispose()


# Two test processes may each run a stack at once: small connection pools keep both (and the
# tests' own engines) under PostgreSQL's max_connections (100). No connection is held during a
# carrier call (a Control Center account's gate takes and lets go its slot in short
# transactions), so 3 a process are enough.
TEST_STACK_ENV = {"DATABASE_POOL_SIZE": "3"}


@pytest.fixture
def stack_auth_mode() -> str:
    """How the stack's intake knows its callers; a test module overrides it with "jwt" to go
    through bearer tokens (``stack.dev_token``)."""
    return "dev"


@pytest.fixture
def stack(
    private_database_url, private_amqp_url, credentials_key, tmp_path, stack_auth_mode
) -> Iterator[Stack]:
    config = StackConfig(
        database_url=private_database_url,
        rabbitmq_url=private_amqp_url,
        credentials_key=credentials_key,
        var_dir=tmp_path / "var",
        ports=Ports.free(),
        callback_delay_s=0.1,
        extra_env=dict(TEST_STACK_ENV),
        # Repeatable fault draws (a few gathered calls can otherwise all miss a 10 % fault).
        sim_random_seed=31,
        auth_mode=stack_auth_mode,
    )
    running = Stack(config)
    try:
        running.start_carrier_and_mail()
        yield running
    finally:
        running.stop()


def admin(stack: Stack, *args: str, env: dict[str, str] | None = None) -> str:
    """Run the admin CLI as an operator would."""
    result = subprocess.run(
        [str(BIN / "devicebulk-admin"), *args],
        env=stack.config.env() | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"devicebulk-admin {args[0]} failed:\n{result.stdout}{result.stderr}"
    )
    return result.stdout


def write_devices_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def sim(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.config.sim_url, timeout=30)
