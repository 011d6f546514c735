"""ChangeType 8, ChangeICCIDorIMEI: one old → new identifier pair a device, one device a carrier
request. On the carrier's success the device record takes the new identifier and
``device_identifier_history`` keeps the old one. The carrier's view cannot show it: an
interrupted attempt is sent again, for the device as the carrier knows it now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from devicebulk_common import operations as ops
from devicebulk_common.carriers.base import (
    AsyncRequestAccepted,
    CarrierAdapter,
    DeviceRef,
    SyncActionResult,
)
from devicebulk_common.models import CustomerRatePlan, Device, DeviceIdentifierHistory
from devicebulk_common.operation_specs.spec import (
    Confirmed,
    EffectRefused,
    OperationSpec,
    Params,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from devicebulk_common.models import DeviceChange


class ChangeIdentifierParams(Params):
    identifier_type: Literal["ICCID", "IMEI", "iccid", "imei"]
    old_iccid: str | None = None
    new_iccid: str | None = None
    old_imei: str | None = None
    new_imei: str | None = None
    customer_rate_plan_id: int | None = None


def identifiers(device: DeviceRef, params: Mapping[str, Any]) -> tuple[DeviceRef, DeviceRef, str]:
    """(the device as the carrier knows it now, what it becomes, which identifier changes)."""
    kind = str(params.get("identifier_type") or "").upper()
    if kind not in ("ICCID", "IMEI"):
        raise ValueError(f"identifier_type must be ICCID or IMEI, not {kind!r}")
    current = DeviceRef(
        iccid=params.get("old_iccid") or device.iccid,
        imei=params.get("old_imei") or device.imei,
    )
    if kind == "ICCID":
        if not params.get("new_iccid"):
            raise ValueError("an ICCID change needs new_iccid")
        target = DeviceRef(iccid=params["new_iccid"])
    else:
        if not params.get("new_imei"):
            raise ValueError("an IMEI change needs new_imei")
        target = DeviceRef(iccid=current.iccid, imei=params["new_imei"])
    return current, target, kind


async def send(
    adapter: CarrierAdapter, devices: Sequence[DeviceRef], params: Mapping[str, Any]
) -> AsyncRequestAccepted | SyncActionResult:
    (device,) = devices
    current, target, kind = identifiers(device, params)
    return await adapter.change_identifier(current, target, identifier=kind)


async def apply(
    session: AsyncSession, device: Device | None, dc: DeviceChange, confirmed: Confirmed
) -> dict[str, Any]:
    """The device record takes the new identifier; ``device_identifier_history`` keeps the
    old one. A repeat (the record already has the new value) changes nothing."""
    params = dc.params or {}
    kind = str(params.get("identifier_type") or "ICCID").upper()
    column = "imei" if kind == "IMEI" else "iccid"
    new = params.get(f"new_{column}") or confirmed.ids.get(column)
    if device is None:
        return {"identifier_type": kind, "new": new}
    if not new:
        raise EffectRefused(
            "IdentifierChange.NoNewValue",
            f"the carrier confirmed the change but neither the request nor the carrier names "
            f"the new {kind}",
        )
    old = getattr(device, column)
    if old != new:
        taken = select(Device.id).where(
            Device.service_provider_id == device.service_provider_id,
            getattr(Device, column) == new,
            Device.id != device.id,
        )
        if column == "imei":
            taken = taken.where(Device.is_deleted.is_(False))
        other = await session.scalar(taken.limit(1))
        if other is not None:
            raise EffectRefused(
                "IdentifierChange.InUse",
                f"the carrier moved the device to {kind} {new}, but device {other} of our "
                f"inventory already has it; reconcile the two records by hand",
            )
        session.add(
            DeviceIdentifierHistory(
                device_id=device.id,
                identifier_type=kind,
                old_value=old or "",
                new_value=new,
                device_change_id=dc.id,
            )
        )
        setattr(device, column, new)
    result: dict[str, Any] = {"identifier_type": kind, "old": old, "new": new}
    plan_id = params.get("customer_rate_plan_id")
    if plan_id is not None:
        # The identifier change stands even if the plan was removed since intake checked it.
        if await session.get(CustomerRatePlan, plan_id) is not None:
            device.customer_rate_plan_id = plan_id
            result["customer_rate_plan_id"] = plan_id
        else:
            result["customer_rate_plan_id"] = f"{plan_id} no longer exists; not set"
    return result


SPEC = OperationSpec(
    name=ops.CHANGE_IDENTIFIER,
    params=ChangeIdentifierParams,
    apply=apply,
    send=send,
    capability=ops.CHANGE_IDENTIFIER,
)
