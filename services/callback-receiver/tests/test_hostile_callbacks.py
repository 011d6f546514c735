"""Hostile and careless callbacks: never a 500, never a 503 "send again" for what can never
succeed, no exception text in any answer, no database work for made-up listeners."""

from __future__ import annotations

import json

import httpx
import pytest
from callback_helpers import activation_callback
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from devicebulk_callbacks.app import create_app
from devicebulk_callbacks.settings import CallbackSettings


def _no_exception_text(answer: httpx.Response) -> None:
    assert answer.headers["content-type"] == "application/problem+json"
    detail = answer.json()["detail"]
    for leak in ("Error", "Traceback", "asyncpg", "sqlalchemy", "codec", "recursion"):
        assert leak not in detail, detail


async def test_a_path_id_that_can_name_no_provider_is_404(receiver, scenario):
    body = activation_callback(scenario.changes[0].iccid, "req-path")
    for segment in (
        "2147483648",
        "99999999999999999999999",
        "0",
        "-1",
        "\uff11\uff12",
        "1e3",
        "+1",
    ):
        answer = await receiver.post(f"/callbacks/thingspace/{segment}/path-secret", json=body)
        assert answer.status_code == 404, segment
        _no_exception_text(answer)


async def test_malformed_unicode_and_deep_nesting_are_400(receiver, scenario):
    good = json.dumps(activation_callback(scenario.changes[0].iccid, "req-uni"))
    bodies = [
        good.replace('"s3cret"', '"s3\\ud800cret"'),  # lone surrogate in the password
        good.replace('"ts-callback"', '"ts-\\udfffcallback"'),  # and in the username
        good.replace('"ts-callback"', '"ts-\\u0000callback"'),  # NUL in the username
        good.replace('"Success"', '"Succ\\ud83dess"'),  # lone surrogate in a field
        good.replace('"status"', '"st\\ud800atus"'),  # in a key
        good.replace('"callbackCount": 1', '"callbackCount": ' + "[" * 100 + "]" * 100),
        good.replace('"callbackCount": 1', '"callbackCount": ' + "[" * 20000 + "]" * 20000),
    ]
    for body in bodies:
        answer = await receiver.post(scenario.url, content=body.encode())
        assert answer.status_code == 400, body[:200]
        _no_exception_text(answer)
    ok = good.replace('"Success"', '"Succ\\u00e9ss\\ud83d\\ude00"')  # escapes that are fine
    assert (await receiver.post(scenario.url, content=ok.encode())).status_code == 200


async def test_a_body_past_64_kib_is_413_declared_or_chunked(receiver, scenario):
    body = json.dumps(
        activation_callback(scenario.changes[0].iccid, "req-big", note="n" * 70_000)
    ).encode()

    async def chunked():
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    for content in (body, chunked()):
        answer = await receiver.post(scenario.url, content=content)
        assert answer.status_code == 413
        assert answer.headers["content-type"] == "application/problem+json"


async def test_probes_metrics_and_docs_are_not_on_the_callback_port(receiver):
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
        assert (await receiver.get(path)).status_code == 404, path


@pytest.fixture
async def away(credentials_key):
    """A receiver whose database is away (nothing listens on its port)."""
    app = create_app(
        CallbackSettings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none")
    )
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://receiver"
        ) as client:
            yield client


async def test_the_database_away_is_503_never_500(away):
    answer = await away.post(
        "/callbacks/thingspace/1/secret", json=activation_callback("8914800000000000000", "r")
    )
    assert answer.status_code == 503
    _no_exception_text(answer)


async def test_made_up_provider_ids_cost_no_database_work(database_url, scenario, credentials_key):
    app = create_app(CallbackSettings(database_url=database_url, callbacks_provider_cache_s=60))
    async with app.router.lifespan_context(app):
        statements: list[str] = []
        event.listen(
            app.state.engine.sync_engine,
            "before_cursor_execute",
            lambda conn, cursor, statement, *a: statements.append(statement),
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://receiver"
        ) as client:
            wrong = activation_callback(scenario.changes[0].iccid, "r", password="wrong")
            assert (await client.post(scenario.url, json=wrong)).status_code == 401
            before = len(statements)
            for made_up in range(scenario.provider.id + 1000, scenario.provider.id + 1100):
                answer = await client.post(f"/callbacks/thingspace/{made_up}/x", json=wrong)
                assert answer.status_code == 404
        assert len(statements) == before


class _Refused(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"refused ({sqlstate})")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("sqlstate", "status"), [("22001", 400), ("57P01", 503)])
async def test_a_value_the_database_refuses_is_400_a_database_gone_is_503(
    receiver_app, receiver, scenario, sqlstate, status
):
    async def store(session, received):
        raise DBAPIError("INSERT ...", {}, _Refused(sqlstate))

    receiver_app.state.intake.group_commit.store = store
    body = activation_callback(scenario.changes[0].iccid, f"req-{sqlstate}")
    answer = await receiver.post(scenario.url, json=body)
    assert answer.status_code == status
    _no_exception_text(answer)
