"""structlog set-up: JSON or console output, ids bound from contextvars."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from .carriers.redaction import redact_value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Masks secret keys, registered secret values and callback path secrets in a log event
    (its message, every field, and the formatted exception)."""
    return {key: redact_value({key: value})[key] for key, value in event_dict.items()}


HIDDEN = "<hidden>"

# Database error texts that quote the value refused; the engines hide bound parameters
# (``hide_parameters``), but these come from the driver and the server themselves, so a
# rejected value (a request's field, an address, an MSISDN) would reach the log with them.
_SERVER_QUOTES = re.compile(
    r'((?:invalid input syntax for|invalid input value for|malformed [a-z ]+ literal)[^:\n]*: )"[^\n]*"'
)
_OUT_OF_RANGE = re.compile(r'(value )"[^"\n]*"( is out of range)')
_KEY_DETAIL = re.compile(
    r"(Key \([^\n]*?\)=\()[^\n]*(\) (?:already exists|is not present in table|"
    r"conflicts with existing key|is still referenced))"
)
_FAILING_ROW = re.compile(r"(Failing row contains \().*$", re.M)
# asyncpg's own: ``invalid input for query argument $1: <repr of the value> (<reason>)``
_QUERY_ARGUMENT = re.compile(r"(invalid input for query argument \$\d+: )(.*)$", re.M)
_MARKERS = ("invalid input", "malformed", " is out of range", "Key (", "Failing row")


def _argument_reason(match: re.Match[str]) -> str:
    """The value hidden, the reason kept: the reason is the balanced ``(...)`` that ends the
    line (the value's repr before it may hold any parentheses)."""
    tail, depth = match.group(2), 0
    for i in range(len(tail) - 1, 0, -1):
        depth += {")": 1, "(": -1}.get(tail[i], 0)
        if depth == 0:
            if tail[i] == "(" and tail[i - 1] == " " and tail.endswith(")"):
                return f"{match.group(1)}{HIDDEN} {tail[i:]}"
            break
    return f"{match.group(1)}{HIDDEN}"


def hide_sql_values(text: str) -> str:
    """``text`` with the values database errors quote replaced by ``<hidden>``: asyncpg's
    "invalid input for query argument", PostgreSQL's "invalid input syntax for type ...",
    "value ... is out of range", and the ``Key (...)=(...)`` and "Failing row contains"
    details. What the error is about (the type, the column, the constraint) is kept."""
    if not any(marker in text for marker in _MARKERS):
        return text
    text = _QUERY_ARGUMENT.sub(_argument_reason, text)
    text = _SERVER_QUOTES.sub(rf'\1"{HIDDEN}"', text)
    text = _OUT_OF_RANGE.sub(rf'\1"{HIDDEN}"\2', text)
    text = _KEY_DETAIL.sub(rf"\1{HIDDEN}\2", text)
    return _FAILING_ROW.sub(rf"\1{HIDDEN}).", text)


def hide_sql_error_values(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """:func:`hide_sql_values` on every text of a log event (the formatted exception too)."""
    return {k: hide_sql_values(v) if isinstance(v, str) else v for k, v in event_dict.items()}


def configure_logging(*, level: str = "INFO", fmt: str = "json", service: str) -> None:
    """Route structlog and the standard library through one JSON (or console) renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        hide_sql_error_values,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    structlog.contextvars.bind_contextvars(service=service)
    for noisy in ("aiormq", "aio_pika", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


@contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """Bind ids (bulk_change_id, device_change_id, correlation_id) for the enclosed work."""
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in ids.items() if v is not None}):
        yield
