"""What the database-only operations share: they refuse only what the database could not take,
a device or a catalogue row that no longer exists (intake validated the rest)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from devicebulk_common.models import Device
from devicebulk_common.operation_specs.spec import EffectRefused

DEVICE_NOT_FOUND = "DeviceNotFound"


def present(device: Device | None) -> Device:
    if device is None:
        raise EffectRefused(DEVICE_NOT_FOUND, "the device is no longer in the inventory")
    return device


async def exists(session: AsyncSession, model: type[Any], key: Any, code: str, what: str) -> None:
    if await session.get(model, key) is None:
        raise EffectRefused(code, f"{what} {key} no longer exists")
