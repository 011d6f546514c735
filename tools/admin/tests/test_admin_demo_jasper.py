"""seed-demo with --jasper-sim-url: POD19, the Control Center provider `make run` seeds next to
ThingSpace's, in our database and at a real jasper-sim over HTTP."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from devicebulk_admin.demo import seed_demo
from devicebulk_admin.demo_jasper import (
    JASPER_ACCOUNT,
    JASPER_EXAMPLE_DEVICES,
    JASPER_PROVIDER_ID,
    jasper_iccid,
    seed_jasper_demo,
)
from devicebulk_common.carriers import DeviceRef, InProcessTokenCache
from devicebulk_common.carriers.jasper import build_jasper_adapter
from devicebulk_common.models import CarrierRatePlan, Device, ServiceProvider
from jasper_sim import SimConfig, create_app
from jasper_sim.serving import serve


async def test_seed_demo_creates_pod19_with_its_devices_here_and_at_the_simulator(
    new_id, run_cli, sessionmaker, sim_server, credentials_key, tmp_path
) -> None:
    tenant_id = new_id()
    iccids_file = tmp_path / "jasper-iccids.txt"
    app = create_app(SimConfig())
    async with serve(app) as jasper_url:
        run = await run_cli(
            "seed-demo", "--tenant", str(tenant_id), "--provider", str(9002), "--devices", "30",
            "--sim-url", sim_server.url, "--jasper-sim-url", jasper_url,
            "--write-jasper-iccids", str(iccids_file),
        )  # fmt: skip
        assert run.code == 0, run.err
        # The Control Center examples' devices (seed-demo --examples also seeds ThingSpace's
        # catalogue, whose Rev customers another test of this session may own).
        with_examples = await seed_jasper_demo(
            sessionmaker,
            tenant_id=tenant_id,
            devices=30,
            credentials_key=credentials_key,
            sim_url=jasper_url,
            examples=True,
        )
        assert (with_examples.devices_inserted, with_examples.sim_devices_added) == (6, 6)
        assert f"provider 19 (POD19 (Cisco Control Center), account {JASPER_ACCOUNT})" in run.out

        async with sessionmaker() as session:
            provider = await session.get(ServiceProvider, JASPER_PROVIDER_ID)
            devices = {
                d.iccid: d
                for d in await session.scalars(
                    select(Device).where(Device.service_provider_id == JASPER_PROVIDER_ID)
                )
            }
            plans = set(
                await session.scalars(
                    select(CarrierRatePlan.code).where(
                        CarrierRatePlan.service_provider_id == JASPER_PROVIDER_ID
                    )
                )
            )
        assert provider is not None
        assert (provider.integration, provider.base_url) == ("jasper", f"{jasper_url}/rws/api/v1")
        assert plans == {"M2M 1GB", "M2M 5GB"}
        demo = [jasper_iccid(n) for n in range(1, 31)]
        assert iccids_file.read_text().split() == demo
        examples = {d.iccid: d for d in JASPER_EXAMPLE_DEVICES}
        assert set(devices) == set(demo) | set(examples)
        assert {devices[i].tenant_id for i in devices} == {tenant_id}
        assert {devices[i].status for i in demo} == {"preactive"}
        assert {devices[i].status for i in examples if examples[i].sim_status == "ACTIVATED"} == {
            "active"
        }

        # At the simulator: every device, in its SIM status, reachable with the stored key.
        sim = app.state.sim
        at_sim = {
            iccid: d.status for iccid, d in sim.state.devices.items() if d.account_id == "100019"
        }
        assert at_sim == {i: "ACTIVATION_READY" for i in demo} | {
            i: d.sim_status for i, d in examples.items()
        }
        async with httpx.AsyncClient() as http:
            adapter = build_jasper_adapter(
                provider,
                http=http,
                credentials_key=credentials_key,
                refusal_cache=InProcessTokenCache(),
            )
            read = await adapter.get_device(DeviceRef(iccid=demo[0]))
        assert (read.state, read.service_plan) == ("ACTIVATION_READY", "M2M 1GB")

        again = await seed_demo(
            sessionmaker,
            tenant_id=tenant_id,
            provider_id=9002,
            devices=30,
            credentials_key=credentials_key,
            sim_url=sim_server.url,
            jasper_sim_url=jasper_url,
        )
        assert again.jasper is not None
        assert (again.jasper.provider_created, again.jasper.devices_inserted) == (False, 0)
        assert (again.jasper.catalogue_created, again.jasper.sim_devices_added) == (0, 0)
