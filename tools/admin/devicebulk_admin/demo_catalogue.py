"""The demo's catalogue (carrier rate plans, Rev customers, customer rate plans and pools) and
the devices the OpenAPI examples name, so that each change type's example succeeds against
`make run`. Everything is created if missing and kept as it is otherwise.

The demo's own plan (the one its devices carry and `make demo` and `make bench` activate with)
is always seeded: an activation's plan must be in the provider's catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import insert

from devicebulk_admin import catalogue
from devicebulk_admin.runtime import Sessionmaker
from devicebulk_common.contracts import DeviceStatus
from devicebulk_common.db.engine import unit_of_work
from devicebulk_common.models import Device

# The plan the demo devices carry and the demo activates with.
DEMO_PLAN = ("M2M_4G", "4G M2M")
# The values `services/intake-api/devicebulk_intake/bulk_changes/examples.py` uses.
CARRIER_RATE_PLANS = [
    DEMO_PLAN,
    ("STANDARD_PLAN_001", "Standard plan"),
    ("M2M_5GB", "5 GB M2M"),
]
REV_CUSTOMERS = [("12345", "Demo Rev customer"), ("12346", "Second Rev customer")]
CUSTOMER_RATE_PLANS = [(123, "Demo customer plan"), (124, "Second customer plan")]
CUSTOMER_RATE_POOLS = [(456, "Demo pool"), (457, "Second pool")]

# Our device states and the simulator's (None: not at the carrier yet).
_AT_CARRIER: dict[DeviceStatus, str | None] = {
    DeviceStatus.NOT_PROVISIONED: None,
    DeviceStatus.PREACTIVE: "preactive",
    DeviceStatus.ACTIVE: "active",
    DeviceStatus.SUSPENDED: "suspend",
    DeviceStatus.DEACTIVATED: "deactive",
}


@dataclass(frozen=True)
class ExampleDevice:
    """A device an OpenAPI example names, in the state that example needs."""

    example: str
    iccid: str
    imei: str
    status: DeviceStatus
    msisdn: str | None = None  # the devices in service (active, suspended) have one

    @property
    def at_carrier(self) -> str | None:
        return _AT_CARRIER[self.status]


_PRE, _ACT, _SUS, _DEA = (
    DeviceStatus.PREACTIVE,
    DeviceStatus.ACTIVE,
    DeviceStatus.SUSPENDED,
    DeviceStatus.DEACTIVATED,
)

# By example (the ICCIDs and IMEIs `examples.py` names). The new ICCID of `change-iccid`
# (89148000008245117209) and the new IMEI of `change-imei` (356938035717223) stay unknown.
EXAMPLE_DEVICES = [
    ExampleDevice("activate", "89148000008245117019", "356938035717017", _PRE),
    ExampleDevice("activate", "89148000008245117027", "356938035717025", _PRE),
    ExampleDevice("portal-status-update", "89148000008245117035", "356938035717033", _PRE),
    ExampleDevice("suspend", "89148000008245117043", "356938035717041", _ACT, "8585550101"),
    ExampleDevice("suspend", "89148000008245117050", "356938035717058", _ACT, "8585550102"),
    ExampleDevice("restore", "89148000008245117068", "356938035717066", _SUS, "8585550103"),
    ExampleDevice("restore", "89148000008245117076", "356938035717074", _SUS, "8585550104"),
    ExampleDevice("deactivate", "89148000008245117084", "356938035717082", _ACT, "8585550105"),
    ExampleDevice("deactivate", "89148000008245117092", "356938035717090", _ACT, "8585550106"),
    ExampleDevice(
        "inventory", "89148000008245117100", "356938035717108", DeviceStatus.NOT_PROVISIONED
    ),
    ExampleDevice(
        "inventory", "89148000008245117118", "356938035717116", DeviceStatus.NOT_PROVISIONED
    ),
    ExampleDevice(
        "update-place-of-use", "89148000008245117126", "356938035717124", _ACT, "8585550107"
    ),
    ExampleDevice("update-place-of-use", "89148000008245117134", "356938035717132", _PRE),
    ExampleDevice("assign-customer", "89148000008245117142", "356938035717140", _ACT, "8585550108"),
    ExampleDevice(
        "customer-rate-plan", "89148000008245117159", "356938035717157", _ACT, "8585550109"
    ),
    ExampleDevice("archival", "89148000008245117167", "356938035717165", _DEA),
    ExampleDevice("edit-username", "89148000008245117175", "356938035717173", _ACT, "8585550110"),
    ExampleDevice(
        "carrier-rate-plan", "89148000008245117183", "356938035717181", _ACT, "8585550111"
    ),
    ExampleDevice("change-iccid", "89148000008245117191", "356938035717199", _ACT, "8585550112"),
    ExampleDevice("change-imei", "89148000008245117217", "356938035717215", _ACT, "8585550113"),
    ExampleDevice("device-deletion", "89148000008245117233", "356938035717231", _DEA),
    ExampleDevice("device-deletion", "89148000008245117241", "356938035717249", _DEA),
]


async def seed_catalogue(
    sessionmaker: Sessionmaker, *, tenant_id: int, provider_id: int, examples: bool = True
) -> int:
    """Creates the catalogue entries that are missing (only the demo's plan unless
    ``examples``); returns how many it created."""
    plans = CARRIER_RATE_PLANS if examples else [DEMO_PLAN]
    wanted: list[tuple[catalogue.Kind, int, Any, str]] = [
        *((catalogue.CARRIER_RATE_PLAN, provider_id, code, name) for code, name in plans),
    ]
    if examples:
        wanted += [
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


async def seed_example_devices(
    sessionmaker: Sessionmaker, *, tenant_id: int, provider_id: int
) -> int:
    """Adds the examples' devices to our inventory; returns how many were added (a device that
    is there already is kept as it is)."""
    rows = [
        {
            "tenant_id": tenant_id,
            "service_provider_id": provider_id,
            "iccid": device.iccid,
            "imei": device.imei,
            "msisdn": device.msisdn,
            "mdn": device.msisdn,
            "status": device.status.value,
            "carrier_rate_plan": None if device.at_carrier is None else DEMO_PLAN[0],
            "is_active": True,
            "is_deleted": False,
        }
        for device in EXAMPLE_DEVICES
    ]
    statement = (
        insert(Device)
        .on_conflict_do_nothing(index_elements=[Device.service_provider_id, Device.iccid])
        .returning(Device.id)
    )
    async with unit_of_work(sessionmaker) as session:
        return len((await session.execute(statement, rows)).all())


def example_device_seeds() -> list[dict[str, Any]]:
    """The same devices as the simulator's seed (`POST /_sim/devices`), those at the carrier."""
    return [
        {
            "iccid": device.iccid,
            "imei": device.imei,
            "state": device.at_carrier,
            "servicePlan": DEMO_PLAN[0],
            **({"mdn": device.msisdn} if device.msisdn else {}),
        }
        for device in EXAMPLE_DEVICES
        if device.at_carrier is not None
    ]
