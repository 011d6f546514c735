"""A value the database refuses never appears in a log line: the engines hide bound parameters,
and the logging path hides what the driver's and the server's own error texts quote (asyncpg's
"invalid input for query argument $1: <value>", PostgreSQL's "invalid input syntax for type
integer: "<value>"", and the "Key (...)=(...)" and "Failing row contains (...)" details)."""

from __future__ import annotations

import logging
import random
import uuid

import pytest
import structlog
from sqlalchemy import Integer, bindparam, text

from devicebulk_common.db.engine import create_engine
from devicebulk_common.logging import configure_logging


@pytest.fixture
def restored_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _rejected() -> str:
    # Made at run time: a traceback quotes this file's source lines, never a literal value.
    return f"REJECTED-{uuid.uuid4().hex[:12]}"


async def test_a_rejected_value_never_appears_in_a_log_line(restored_logging, capsys, database_url):
    configure_logging(level="DEBUG", fmt="json", service="test")  # onto the captured stdout
    log = structlog.get_logger("test")
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    as_int = text("SELECT :v").bindparams(bindparam("v", type_=Integer))
    word, parens, key, row = _rejected(), _rejected() + " (x", _rejected(), _rejected()
    too_big = random.randrange(10**12, 10**13)
    attempts = [
        (as_int, {"v": word}),  # asyncpg refuses it before sending
        (as_int, {"v": parens}),
        (as_int, {"v": too_big}),
        (text("SELECT CAST(CAST(:v AS text) AS integer)"), {"v": word}),  # the server refuses it
        (text("INSERT INTO dup VALUES (CAST(:v AS text), 1)"), {"v": key}),
        (text("INSERT INTO dup VALUES (CAST(:v AS text), NULL)"), {"v": row}),
    ]
    failures = 0
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TEMP TABLE dup (a text UNIQUE, b int NOT NULL)"))
            await conn.execute(text("INSERT INTO dup VALUES (CAST(:v AS text), 1)"), {"v": key})
            await conn.commit()
            for statement, values in attempts:
                try:
                    await conn.execute(statement, values)
                except Exception as exc:
                    failures += 1
                    log.exception("query failed")
                    log.warning("query failed", error=str(exc), cause=repr(exc.__cause__))
                    await conn.rollback()
    finally:
        await engine.dispose()
    out = capsys.readouterr().out
    assert failures == len(attempts)
    for value in (word, parens, key, row, str(too_big)):
        assert value not in out, [line for line in out.splitlines() if value in line]
    # What the error was about is still there.
    assert "invalid input for query argument $1: <hidden> (value out of int32 range)" in out
    assert 'invalid input syntax for type integer: \\"<hidden>\\"' in out
    assert "Key (a)=(<hidden>) already exists" in out
    assert "Failing row contains (<hidden>)" in out
