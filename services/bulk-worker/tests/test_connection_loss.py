"""The worker and relay as they run, while RabbitMQ closes their connections mid-run, twice:
the unacked deliveries come again while the first attempts are still carrying them out."""

from __future__ import annotations

import asyncio
import socket
import subprocess

import aio_pika
from change_helpers import CallbackSink
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from starlette.applications import Starlette
from starlette.routing import Route
from worker_helpers import credentials

from devicebulk_common.db.engine import create_engine, create_sessionmaker
from devicebulk_common.messaging.publisher import Publisher, open_confirm_channel
from devicebulk_common.messaging.topology import declare_topology
from devicebulk_common.models import BulkChange, DeviceChange
from devicebulk_common.outbox.relay import Relay
from devicebulk_devstack import testdata
from devicebulk_worker import main as worker_main
from devicebulk_worker.settings import WorkerSettings
from thingspace_sim.serving import serve

N = 40
ACTIVATE = "/api/m2m/v1/devices/actions/activate"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _close_connections(vhost: str) -> None:
    subprocess.run(
        ["rabbitmqctl", "-q", "close_all_connections", "-p", vhost, "test closes them"],
        check=True,
        capture_output=True,
        timeout=60,
    )


async def _count(sessionmaker, *statuses: str) -> int:
    async with sessionmaker() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(DeviceChange)
                .where(DeviceChange.status.in_(statuses))
            )
        )


async def _until(predicate, *tasks: asyncio.Task, limit_s: float = 180.0) -> None:
    for _ in range(int(limit_s / 0.05)):
        for task in tasks:
            assert not task.done(), f"exited: {task.exception()!r}"
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never happened")


async def test_closed_connections_twice_mid_run_send_no_device_twice(
    private_database_url, private_amqp_url, factory, credentials_key, carrier
):
    engine = create_async_engine(private_database_url, poolclass=NullPool)
    sessions = create_sessionmaker(engine)
    seed = type(factory)(sessions, credentials_key)
    tenant = await seed.tenant()
    provider = await seed.provider(
        account_name=carrier.account,
        base_url=f"{carrier.url}/api",
        credentials=credentials(carrier.account),
    )
    devices = await seed.devices(tenant, provider, N, carrier_rate_plan="M2M_4G")
    await carrier.seed(
        [
            {"iccid": d.iccid, "imei": d.imei, "state": "preactive", "servicePlan": "M2M_4G"}
            for d in devices
        ]
    )
    sink = CallbackSink(sessions)
    app = Starlette(routes=[Route("/cb/{provider}", sink.endpoint, methods=["POST"])])
    async with serve(app) as sink_url:
        account = {
            "accountName": carrier.account,
            **credentials(carrier.account),
            "callback": {"url": f"{sink_url}/cb/{provider.id}"},
        }
        (await carrier.http.post("/_sim/accounts", json=account)).raise_for_status()
        # Slower than the broker's reconnect (5 s): the copies come back while the first
        # attempts' carrier requests are still under way.
        r = await carrier.http.put(
            f"/_sim/accounts/{carrier.account}/faults", json={"latency_ms": 6_500}
        )
        r.raise_for_status()
        first_call = (await carrier.http.get("/_sim/calls")).json()["next"]
        bulk_id, _ = await testdata.add_bulk_change(
            sessions,
            tenant_id=tenant.id,
            service_provider_id=provider.id,
            devices=devices,
            status="Queued",
            params={"op": "activate", "service_plan": "M2M_4G"},
            request={
                "StatusUpdate": {
                    "TargetStatus": "Active",
                    "ThingSpaceStatusUpdate": {"ZipCode": "92127"},
                }
            },
        )

        relay_engine = create_engine(private_database_url, pool_size=2)
        relay_connection = await aio_pika.connect_robust(private_amqp_url)

        async def reopen() -> Publisher:
            channel = await open_confirm_channel(relay_connection)
            await declare_topology(channel)
            return Publisher(channel)

        stop = asyncio.Event()
        settings = WorkerSettings(
            database_url=private_database_url,
            database_pool_size=5,
            rabbitmq_url=private_amqp_url,
            credentials_key=credentials_key,
            worker_health_port=_free_port(),
            worker_prefetch=40,
            worker_batch_max=10,
            worker_batch_wait_s=0.3,
            worker_batch_quiet_s=0.05,
            worker_lease_s=60.0,
        )
        worker = asyncio.create_task(worker_main.run(settings, stop))
        relay = Relay(create_sessionmaker(relay_engine), await reopen(), batch_size=20)
        relaying = asyncio.create_task(
            relay.run(private_database_url, stop, poll_interval_s=0.2, reopen=reopen)
        )
        vhost = private_amqp_url.rsplit("/", 1)[1]
        try:
            for _ in range(2):
                # Deliveries in flight: device changes started, their carrier calls under way.
                await _until(lambda: _some_processing(sessions), worker, relaying)
                _close_connections(vhost)
                await asyncio.sleep(0.5)
            await _until(lambda: _processed(sessions, bulk_id), worker, relaying)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(worker, relaying), 60)
            await relay_connection.close()
            await relay_engine.dispose()
    calls = (await carrier.http.get("/_sim/calls", params={"since": first_call})).json()["calls"]
    accepted = [c for c in calls if c["path"] == ACTIVATE and c["status"] == 200]
    async with sessions() as s:
        bulk = await s.get(BulkChange, bulk_id)
        changes = (
            await s.scalars(select(DeviceChange).where(DeviceChange.bulk_change_id == bulk_id))
        ).all()
    await engine.dispose()
    assert [dc.status for dc in changes] == ["Success"] * N  # none refused as already active
    assert sum(c["devices"] for c in accepted) == N  # no device in two accepted requests
    # The copies left the live attempts alone: no second attempt, no carrier asked again.
    assert [dc.attempts for dc in changes] == [1] * N
    assert not [c for c in calls if c["path"].endswith("/devices/actions/list")]
    # Completed once, with every device ended and the countdown at zero (never below: CHECK).
    assert bulk.remaining_count == 0 and bulk.status == "PROCESSED" and bulk.completion_seq == 1


async def _some_processing(sessions) -> bool:
    return await _count(sessions, "Processing") > 0


async def _processed(sessions, bulk_id) -> bool:
    async with sessions() as s:
        return (await s.get(BulkChange, bulk_id)).status == "PROCESSED"
