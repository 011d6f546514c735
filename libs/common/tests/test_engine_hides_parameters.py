"""SQL errors are raised (and so logged) without their bound parameters."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from devicebulk_common.db.engine import create_engine


async def test_sql_errors_do_not_carry_bound_parameters(database_url):
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as failed:
                await conn.execute(text("SELECT CAST(:v AS text), 1 / 0"), {"v": "555-0100-MSISDN"})
    finally:
        await engine.dispose()
    assert "555-0100-MSISDN" not in str(failed.value)
