"""Schemathesis against the intake's own OpenAPI, on a real server: no 5xx, and every status,
content type and response body as documented (a few examples per operation, seeded)."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from devicebulk_intake.app import create_app
from devicebulk_intake.settings import IntakeSettings

CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(database_url: str, credentials_key: str):
    port = _free_port()
    app = create_app(IntakeSettings(database_url=database_url, intake_max_devices=1000))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the intake did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


async def test_the_intake_conforms_to_its_openapi_and_never_answers_5xx(served, factory, tmp_path):
    tenant = await factory.tenant()
    await factory.provider()
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "run",
        f"{served}/openapi.json",
        "--header",
        f"X-Tenant-Id: {tenant.id}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "20",
        "--seed",
        "1",
        "--no-color",
        cwd=tmp_path,  # its .schemathesis/ cache stays out of the work tree
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    assert "Tested:" in report
