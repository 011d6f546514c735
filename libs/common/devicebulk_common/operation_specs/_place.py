"""The primary place of use as an operation stores it (snake_case, the neutral record's
fields) and turns it back into :class:`~devicebulk_common.carriers.PlaceOfUse`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from devicebulk_common.carriers.base import PlaceOfUse


class PlaceOfUseParams(BaseModel):
    model_config = ConfigDict(frozen=True)

    address_line1: str
    city: str
    state: str
    zip: str
    country: str
    first_name: str
    last_name: str
    address_line2: str | None = None
    zip4: str | None = None


def place_of_use(params: Mapping[str, Any]) -> PlaceOfUse | None:
    raw = params.get("place_of_use")
    if not raw:
        return None
    return PlaceOfUse(**PlaceOfUseParams.model_validate(raw).model_dump())
