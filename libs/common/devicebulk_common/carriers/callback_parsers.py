"""The callback parser of each integration whose carrier calls us back (a carrier whose results
are synchronous, such as Control Center, has none)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devicebulk_common.callback_records import MalformedCallback, ParsedCallback

from . import thingspace_callbacks

Parser = Callable[[Any], ParsedCallback]

PARSERS: dict[str, Parser] = {"thingspace": thingspace_callbacks.parse}


def receives_callbacks(integration: str) -> bool:
    return integration in PARSERS


def parser_for(integration: str) -> Parser:
    """The parser of ``integration``'s callbacks; one that sends none refuses every body."""
    parser = PARSERS.get(integration)
    if parser is not None:
        return parser

    def refuse(payload: Any) -> ParsedCallback:
        raise MalformedCallback(f"a {integration} provider receives no callbacks")

    return refuse
