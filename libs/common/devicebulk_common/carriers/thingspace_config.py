"""The ThingSpace adapter's per-provider options, and the carrier's published limits.

A provider's stored options (``service_provider.carrier_options``, over the service's defaults:
the worker's ``WORKER_USERNAME_CUSTOM_FIELD``) are validated here, by
:meth:`ThingSpaceConfig.from_mapping`, wherever they are stored or read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .thingspace_wire import (
    CUSTOM_FIELD_KEYS,
    DEFAULT_USERNAME_FIELD,
    MAX_COST_CENTER_LEN,
    MAX_CUSTOM_FIELD_LEN,
)


@dataclass(frozen=True)
class ThingSpaceConfig:
    # The custom field that holds EditUsername's username (ThingSpace has no username).
    username_field: str = DEFAULT_USERNAME_FIELD
    # Published limits, not options: a custom field's value and a cost center code.
    custom_field_max_length: ClassVar[int] = MAX_CUSTOM_FIELD_LEN
    cost_center_max_length: ClassVar[int] = MAX_COST_CENTER_LEN

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ThingSpaceConfig:
        """From plain values (JSON); unknown names and bad values are refused (ValueError)."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(
                f"unknown ThingSpace options: {sorted(unknown)} (known: {sorted(known)})"
            )
        config = cls(**dict(values))
        if config.username_field not in CUSTOM_FIELD_KEYS:
            raise ValueError(
                f"option username_field: {config.username_field!r} is not one of "
                f"{', '.join(sorted(CUSTOM_FIELD_KEYS))}"
            )
        return config
