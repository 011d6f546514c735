"""The image as it ships: its own migrate, relay, intake API, bulk worker, callback receiver and
notifier (each in a container of the image, as its non-root user) carry a 100-device activation
to PROCESSED and its email, against this machine's PostgreSQL and RabbitMQ (a database and a
vhost of the test's own) and the ThingSpace simulator.

Run by ``make image-test`` (which builds the image first and names it in DEVICEBULK_IMAGE);
skipped without it."""

from __future__ import annotations

import email
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from email import policy

import asyncpg
import httpx
import pytest

from devicebulk_devstack.processes import Ports, StackConfig, free_port
from devicebulk_devstack.testdata import make_iccid, make_imei, unique_id
from tests.deploy.image_stack import MARK, ImageStack, buildah, marked_processes

IMAGE = os.environ.get("DEVICEBULK_IMAGE", "")
SIM_IMAGE = os.environ.get("DEVICEBULK_SIM_IMAGE", "")
UID = 10001
SERVICES = {
    "devicebulk-relay",
    "devicebulk-intake-api",
    "devicebulk-bulk-worker",
    "devicebulk-callback-receiver",
    "devicebulk-notifier",
}

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not IMAGE,
        reason="make image-test builds the image and names it in DEVICEBULK_IMAGE",
    ),
]

ACCOUNT = "IMAGE-TEST"
CREDS = {
    "THINGSPACE_CLIENT_KEY": "image-key",
    "THINGSPACE_CLIENT_SECRET": "image-secret",
    "THINGSPACE_USERNAME": "image-api",
    "THINGSPACE_PASSWORD": "image-password",
}

# As the root conftest.py reads them.
PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_HOST = os.environ.get("TEST_PG_HOST", "postgres@127.0.0.1:5432")


@pytest.fixture
async def bare_database_url() -> AsyncIterator[str]:
    """A database of the test's own, never migrated: the image's devicebulk-migrate does it."""
    name = f"devicebulk_test_image_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield f"postgresql+asyncpg://{PG_HOST}/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def image_stack(
    bare_database_url, private_amqp_url, credentials_key, tmp_path
) -> Iterator[ImageStack]:
    config = StackConfig(
        database_url=bare_database_url,
        rabbitmq_url=private_amqp_url,
        credentials_key=credentials_key,
        var_dir=tmp_path / "var",
        ports=Ports.free(),
        callback_delay_s=0.1,
        extra_env={"DATABASE_POOL_SIZE": "3"},
    )
    stack = ImageStack(config, IMAGE)
    try:
        stack.start_carrier_and_mail()
        yield stack
    finally:
        stack.stop()


def _wait_processed(api: httpx.Client, bulk_id: str, headers: dict, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = api.get(f"/api/v1/bulk-changes/{bulk_id}", headers=headers).json()
        if view["Status"] in ("PROCESSED", "ERROR"):
            return view
        time.sleep(0.5)
    raise AssertionError(f"bulk change not processed in {timeout_s} s: {view}")


def _wait_mail(stack: ImageStack, timeout_s: float = 60) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not list(stack.config.mail_dir.glob("*.eml")):
        time.sleep(0.3)
    return sorted(stack.config.mail_dir.glob("*.eml"))


def _seed(stack: ImageStack, tmp_path, tenant_id: int, provider_id: int) -> list[str]:
    base = unique_id() * 1000
    iccids = [make_iccid(base + i) for i in range(100)]
    imeis = [make_imei((base + i) % 1_000_000) for i in range(100)]
    with httpx.Client(base_url=stack.config.sim_url, timeout=30) as carrier:
        carrier.post(
            "/_sim/accounts",
            json={
                "accountName": ACCOUNT,
                "client_key": CREDS["THINGSPACE_CLIENT_KEY"],
                "client_secret": CREDS["THINGSPACE_CLIENT_SECRET"],
                "username": CREDS["THINGSPACE_USERNAME"],
                "password": CREDS["THINGSPACE_PASSWORD"],
            },
        ).raise_for_status()
        carrier.post(
            "/_sim/devices",
            json={
                "accountName": ACCOUNT,
                "devices": [
                    {"iccid": i, "imei": m, "servicePlan": "M2M_4G", "state": "preactive"}
                    for i, m in zip(iccids, imeis, strict=True)
                ],
            },
        ).raise_for_status()
    data = tmp_path / "data"
    data.mkdir()
    (data / "devices.csv").write_text(
        "iccid,imei,status,carrier_rate_plan\n"
        + "".join(f"{i},{m},preactive,M2M_4G\n" for i, m in zip(iccids, imeis, strict=True))
    )
    data.chmod(0o755)
    (data / "devices.csv").chmod(0o644)
    admin = ["devicebulk-admin"]
    stack.run_once(
        "admin-tenant",
        [*admin, "create-tenant", "--id", str(tenant_id), "--name", "Image tenant",
         "--notification-email", "ops@image.example"],
    )  # fmt: skip
    stack.run_once(
        "admin-provider",
        [*admin, "create-provider", "--id", str(provider_id), "--name", "Image ThingSpace",
         "--account-name", ACCOUNT, "--base-url", f"{stack.config.sim_url}/api"],
        env=CREDS,
    )  # fmt: skip
    stack.run_once(
        "admin-plan",
        [*admin, "create-carrier-rate-plan", "--provider", str(provider_id), "--code", "M2M_4G",
         "--name", "4G"],
    )  # fmt: skip
    stack.run_once(
        "admin-import",
        [*admin, "import-devices", "--tenant", str(tenant_id), "--provider", str(provider_id),
         "/data/devices.csv"],
        volumes=(f"{data}:/data:ro",),
    )  # fmt: skip
    stack.run_once(
        "admin-callback",
        [*admin, "register-callback", "--provider", str(provider_id),
         "--url-base", stack.config.callbacks_url],
    )  # fmt: skip
    return iccids


def test_image_processes_carry_an_activation_to_its_email(image_stack: ImageStack, tmp_path):
    stack = image_stack
    # The image's user is the fixed non-root one, and the image has no compiler.
    probe = stack.run_once("probe", ["sh", "-c", "id -u; command -v gcc cc || echo none"])
    assert probe.split() == [str(UID), "none"]

    stack.run_once("migrate", ["devicebulk-migrate"])
    tenant_id, provider_id = unique_id(), unique_id()
    iccids = _seed(stack, tmp_path, tenant_id, provider_id)

    # Every service from the image, each waited on until its /readyz answers 200 (the relay's,
    # the worker's and the notifier's health ports, the receiver's internal port, the intake's).
    stack.start_services()
    running = stack.container_processes()
    by_script = {os.path.basename(p.argv[1]): p for p in running if len(p.argv) > 1}
    assert set(by_script) >= SERVICES, [p.argv for p in running]
    assert all(p.uid == UID for p in running), [(p.argv, p.uid) for p in running]
    # Every one runs the image's own environment, not the host's.
    assert all(p.argv[0].startswith("/opt/venv/bin/python") for p in running)
    # ... and listens on every address (the image's own *_HOST settings: in a pod, the kubelet's
    # probes and the Services come from outside the container), never on loopback alone.
    for script, proc in by_script.items():
        if script in SERVICES:
            sockets = stack.listening(proc.pid)
            assert sockets, script
            assert all(set(host) == {"0"} for host, _ in sockets), (script, sockets)

    headers = {"X-Tenant-Id": str(tenant_id), "X-User-Email": "operator@image.example"}
    with httpx.Client(base_url=stack.config.intake_url, timeout=30) as api:
        answer = api.post(
            "/api/v1/bulk-changes",
            headers=headers,
            json={
                "Devices": iccids,
                "ServiceProviderId": provider_id,
                "ChangeType": 3,
                "StatusUpdate": {
                    "TargetStatus": "Active",
                    "ThingSpaceStatusUpdate": {"ServicePlan": "M2M_4G", "ZipCode": "92127"},
                },
            },
        )
        assert answer.status_code == 202, answer.text
        bulk_id = answer.json()["BulkChangeId"]
        view = _wait_processed(api, bulk_id, headers)
    assert view["Status"] == "PROCESSED"
    assert view["Counts"] == {"Success": 100}

    mails = _wait_mail(stack)
    assert len(mails) == 1
    message = email.message_from_bytes(mails[0].read_bytes(), policy=policy.default)
    assert message["To"] == "operator@image.example"
    assert bulk_id in message["Subject"] or bulk_id in message.get_body().get_content()


@pytest.mark.skipif(not SIM_IMAGE, reason="make image-test names the simulator's image too")
def test_simulator_image_serves_its_health(tmp_path):
    port = free_port()
    container = buildah("from", "--quiet", SIM_IMAGE)
    run_id = uuid.uuid4().hex
    proc = None
    try:
        proc = subprocess.Popen(
            ["buildah", "run", "--isolation", "chroot", "-e", f"{MARK}={run_id}", container,
             "--", "thingspace-sim", "--host", "127.0.0.1", "--port", str(port)],
            stdout=(tmp_path / "sim.log").open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_sim/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError((tmp_path / "sim.log").read_text())
        user = buildah("run", "--isolation", "chroot", container, "--", "id", "-u")
        assert user == str(UID)
    finally:
        if proc is not None:
            # buildah run does not pass a signal on: stop the simulator itself, then buildah.
            for simulator in marked_processes(run_id):
                os.kill(simulator.pid, signal.SIGKILL)
            proc.kill()
            proc.wait()
        subprocess.run(["buildah", "rm", container], capture_output=True, check=False)
