"""Schemathesis against the intake's own OpenAPI, on a real server: no 5xx, and every status,
content type and response body as documented (a few examples per operation, seeded).

The run has data to find: before it starts, the tenant it calls as has bulk changes in every
state (a submitted activation still queued, a finished one with failed devices, one under way)
with their device changes and audit trails. Schemathesis draws the ``bulk_change_id`` and
``device_change_id`` path parameters from their ids most of the time (a parameter dictionary
bound in ``schemathesis.toml``, written for the run) and generates the rest, so the seven
operations on one bulk change answer 200/202 on real rows as well as 404 on made-up ids."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
import uvicorn
from intake_helpers import ensure_carrier_plan, ensure_provider
from operator_helpers import make_bulk_change, result

from devicebulk_common.carriers.base import CarrierExchange
from devicebulk_common.lifecycle import audit
from devicebulk_common.models import ServiceProvider
from devicebulk_intake.app import create_app
from devicebulk_intake.settings import IntakeSettings

CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
MAX_EXAMPLES = 20
# How often a path id is one of the seeded rows rather than a generated value.
SEEDED_SHARE = 0.8
ON_A_BULK_CHANGE = "/api/v1/bulk-changes/{bulk_change_id}"
EXAMPLES_PROVIDER = 4


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


async def _trail(sessionmaker, bulk_id: uuid.UUID, ids: list[int]) -> None:
    exchange = CarrierExchange(
        operation="activate",
        method="POST",
        url="https://thingspace.test/api/m2m/v1/devices/actions/activate",
        status_code=202,
        request_body='{"devices":[]}',
        response_body='{"requestId":"req-1"}',
        duration_ms=10.0,
    )
    async with sessionmaker() as session, session.begin():
        for dc in ids:
            for step in ("attempt", "carrier:activate"):
                audit(
                    session,
                    bulk_change_id=bulk_id,
                    device_change_id=dc,
                    step=step,
                    actor="bulk-worker",
                    status="Processing",
                    message=step,
                    exchange=exchange if step != "attempt" else None,
                )


async def _seed(
    served: str, factory, sessionmaker, credentials_key: str
) -> tuple[int, list[str], list[int]]:
    """The tenant's bulk changes and device changes; their ids. The provider is the one the
    OpenAPI examples name (4), so that their submits get past the provider check."""
    tenant = await factory.tenant(notification_email="ops@example.test")
    await ensure_provider(sessionmaker, EXAMPLES_PROVIDER, credentials_key)
    async with sessionmaker() as session:
        provider = await session.get(ServiceProvider, EXAMPLES_PROVIDER)
    assert provider is not None
    await ensure_carrier_plan(sessionmaker, provider.id, "M2M_4G")
    devices = await factory.devices(tenant, provider, 6)
    # A submitted activation, its devices still queued (cancel has work to do).
    async with httpx.AsyncClient(base_url=served, timeout=30) as api:
        answer = await api.post(
            "/api/v1/bulk-changes",
            headers={"X-Tenant-Id": str(tenant.id), "X-User-Email": "op@example.test"},
            json={
                "Devices": [d.iccid for d in devices[:3]],
                "ServiceProviderId": provider.id,
                "ChangeType": 3,
                "StatusUpdate": {
                    "TargetStatus": "Active",
                    "ThingSpaceStatusUpdate": {"ServicePlan": "M2M_4G", "ZipCode": "92127"},
                },
            },
        )
        assert answer.status_code == 202, answer.text
        submitted = uuid.UUID(answer.json()["BulkChangeId"])
        listed = await api.get(
            f"/api/v1/bulk-changes/{submitted}/devices", headers={"X-Tenant-Id": str(tenant.id)}
        )
        submitted_ids = [row["DeviceChangeId"] for row in listed.json()["Items"]]
    # One finished with failed devices (retry has work to do), one under way.
    done, done_ids = await make_bulk_change(
        sessionmaker,
        tenant.id,
        provider.id,
        [
            result("Success", device_id=devices[3].id, iccid=devices[3].iccid),
            result("Failed", device_id=devices[4].id, iccid=devices[4].iccid, error_code="E1"),
            result("Failed", device_id=devices[5].id, iccid=devices[5].iccid, error_code="E2"),
        ],
    )
    running, running_ids = await make_bulk_change(
        sessionmaker, tenant.id, provider.id, [result("Processing"), result("AwaitingCallback")]
    )
    for bulk_id, ids in ((done, done_ids), (running, running_ids), (submitted, submitted_ids)):
        await _trail(sessionmaker, bulk_id, ids)
    bulk_ids = [str(submitted), str(done), str(running)]
    return tenant.id, bulk_ids, [*submitted_ids, *done_ids, *running_ids]


def _config(bulk_ids: list[str], device_change_ids: list[int]) -> str:
    return f"""
[dictionaries]
bulk_change_ids = {{ values = {json.dumps(bulk_ids)} }}
device_change_ids = {{ values = {json.dumps(device_change_ids)} }}

[parameters]
"path.bulk_change_id" = {{ dictionary = "bulk_change_ids", probability = {SEEDED_SHARE} }}
"path.device_change_id" = {{ dictionary = "device_change_ids", probability = {SEEDED_SHARE} }}
"""


async def test_the_intake_conforms_to_its_openapi_and_never_answers_5xx(
    served, factory, sessionmaker, credentials_key, tmp_path
):
    tenant_id, bulk_ids, device_change_ids = await _seed(
        served, factory, sessionmaker, credentials_key
    )
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(bulk_ids, device_change_ids))
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        f"{served}/openapi.json",
        "--header",
        f"X-Tenant-Id: {tenant_id}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "1",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(tmp_path / "events.ndjson"),
        cwd=tmp_path,  # its .schemathesis/ cache stays out of the work tree
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    report = output.decode(errors="replace")
    print(f"schemathesis run: {time.monotonic() - started:.1f} s\n{report[-3000:]}")
    assert process.returncode == 0, report[-6000:]
    assert "Tested:" in report
    found = _answers_on_seeded_rows(tmp_path / "events.ndjson", bulk_ids)
    print("answers on seeded rows by operation:", dict(found))
    # Every operation on one bulk change reached a seeded row and answered it (not only 404).
    on_a_bulk_change = {
        "GET " + ON_A_BULK_CHANGE,
        "GET " + ON_A_BULK_CHANGE + "/devices",
        "GET " + ON_A_BULK_CHANGE + "/audit",
        "GET " + ON_A_BULK_CHANGE + "/devices/{device_change_id}/audit",
        "GET " + ON_A_BULK_CHANGE + "/results.csv",
        "POST " + ON_A_BULK_CHANGE + "/retry",
        "POST " + ON_A_BULK_CHANGE + "/cancel",
    }
    assert on_a_bulk_change <= set(found), sorted(on_a_bulk_change - set(found))


def _answers_on_seeded_rows(events: Path, bulk_ids: list[str]) -> Counter[str]:
    """By operation, how many requests named a seeded bulk change and were answered 2xx (read
    from schemathesis's own record of every request and response, its NDJSON report)."""
    found: Counter[str] = Counter()
    for line in events.read_text().splitlines():
        scenario = json.loads(line).get("ScenarioFinished")
        if scenario is None:
            continue
        recorder = scenario["recorder"]
        for interaction in recorder.get("interactions", {}).values():
            response = interaction.get("response") or {}
            uri = interaction["request"]["uri"]
            if 200 <= response.get("status_code", 0) < 300 and any(b in uri for b in bulk_ids):
                found[recorder["label"]] += 1
    return found
