"""A provider's integration options (`--option key=value`), checked before they are stored.

Each integration validates its own in its adapter package (Control Center: `JasperConfig`;
ThingSpace: `ThingSpaceConfig`), through `providers.carrier_config`: options it refuses are an
`AdminError` naming the option, and nothing is stored. A value is read as JSON when it is
JSON (`2`, `true`, `["ACTIVATED"]`, `{"ACTIVATED": ["DEACTIVATED"]}`), else as a string
(`accountCustom3`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from devicebulk_admin.errors import AdminError
from devicebulk_common.providers import (
    InvalidCarrierOptions,
    UnsupportedIntegration,
    carrier_config,
)


def parse_options(given: Iterable[str] | None) -> dict[str, Any]:
    """`["key=value", ...]` → `{key: value}` (a later key wins)."""
    out: dict[str, Any] = {}
    for item in given or ():
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise AdminError(
                f"--option {item!r}: expected key=value (e.g. username_field=CustomField3)"
            )
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def check_options(integration: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options as stored, once the integration accepted them."""
    try:
        carrier_config(integration, options)
    except (InvalidCarrierOptions, UnsupportedIntegration) as exc:
        raise AdminError(f"options refused, nothing stored: {exc}") from exc
    return dict(options)
