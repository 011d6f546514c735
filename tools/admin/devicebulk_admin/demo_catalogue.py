"""The demo's catalogue (carrier rate plans, Rev customers, customer rate plans and pools) and
the device the OpenAPI examples name, so that each change type's example succeeds against
`make run`. Everything is created if missing and kept as it is otherwise."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert

from devicebulk_admin import catalogue
from devicebulk_admin.runtime import Sessionmaker
from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import Device

# The values `services/intake-api/devicebulk_intake/bulk_changes/examples.py` uses.
CARRIER_RATE_PLANS = [
    ("M2M_4G", "4G M2M"),
    ("STANDARD_PLAN_001", "Standard plan"),
    ("M2M_5GB", "5 GB M2M"),
]
REV_CUSTOMERS = [("12345", "Demo Rev customer"), ("12346", "Second Rev customer")]
CUSTOMER_RATE_PLANS = [(123, "Demo customer plan"), (124, "Second customer plan")]
CUSTOMER_RATE_POOLS = [(456, "Demo pool"), (457, "Second pool")]

# Active, with an MSISDN and the IMEI the examples name; the examples' second ICCID stays
# unknown (ChangeType 8's example moves the first device onto it).
EXAMPLE_DEVICE = {
    "iccid": "89148000008245116615",
    "imei": "356938035643809",
    "msisdn": "8585550100",
    "plan": "M2M_4G",
}


async def seed_catalogue(sessionmaker: Sessionmaker, *, tenant_id: int, provider_id: int) -> int:
    """Creates the catalogue entries that are missing; returns how many it created."""
    wanted: list[tuple[catalogue.Kind, int, Any, str]] = [
        *(
            (catalogue.CARRIER_RATE_PLAN, provider_id, code, name)
            for code, name in CARRIER_RATE_PLANS
        ),
        *((catalogue.REV_CUSTOMER, tenant_id, key, name) for key, name in REV_CUSTOMERS),
        *(
            (catalogue.CUSTOMER_RATE_PLAN, tenant_id, key, name)
            for key, name in CUSTOMER_RATE_PLANS
        ),
        *(
            (catalogue.CUSTOMER_RATE_POOL, tenant_id, key, name)
            for key, name in CUSTOMER_RATE_POOLS
        ),
    ]
    created = 0
    for kind, owner_id, key, name in wanted:
        result = await catalogue.create_entry(
            sessionmaker, kind, owner_id=owner_id, key=key, name=name, if_not_exists=True
        )
        created += result.verb == "created"
    return created


async def seed_example_device(
    sessionmaker: Sessionmaker, *, tenant_id: int, provider_id: int
) -> int:
    """Adds the examples' device to our inventory (1 if it was added, 0 if it was there)."""
    statement = (
        insert(Device)
        .values(
            tenant_id=tenant_id,
            service_provider_id=provider_id,
            iccid=EXAMPLE_DEVICE["iccid"],
            imei=EXAMPLE_DEVICE["imei"],
            msisdn=EXAMPLE_DEVICE["msisdn"],
            mdn=EXAMPLE_DEVICE["msisdn"],
            status=DeviceStatus.ACTIVE.value,
            carrier_rate_plan=EXAMPLE_DEVICE["plan"],
            is_active=True,
            is_deleted=False,
        )
        .on_conflict_do_nothing(index_elements=[Device.service_provider_id, Device.iccid])
        .returning(Device.id)
    )
    async with unit_of_work(sessionmaker) as session:
        return len((await session.execute(statement)).all())


def example_device_seed() -> dict[str, Any]:
    """The same device as the simulator's seed (`POST /_sim/devices`)."""
    return {
        "iccid": EXAMPLE_DEVICE["iccid"],
        "imei": EXAMPLE_DEVICE["imei"],
        "mdn": EXAMPLE_DEVICE["msisdn"],
        "state": "active",
        "servicePlan": EXAMPLE_DEVICE["plan"],
    }
