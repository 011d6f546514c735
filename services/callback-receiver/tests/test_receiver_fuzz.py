"""Schemathesis against the receiver's own OpenAPI, on a real server: no 5xx, every status,
content type and response body as documented. Bounded: a fixed number of examples, bodies that
fit the schema and bodies that do not, aimed in turn

- anywhere (generated path: 404 without a body read),
- at the registered listener (the body reaches the parser: 400, or 401 for its credentials),
- at the listener with its valid credentials in the generated body (parsed; stored if it
  parses),
- at the listener with its credentials and a ThingSpace-shaped core (a request id, one of the
  scenario's devices) around the generated fields, so that cases reach the store and the
  reconciliation behind it.

Every callback answered 200 as new must be a stored row, and nothing else may be stored."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from devicebulk_callbacks.main import Servers, build
from devicebulk_callbacks.settings import CallbackSettings
from devicebulk_common.models import CarrierCallback

EXAMPLES = 200
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
AIMS = ("anywhere", "listener", "credentials", "callback")
CREDENTIALS = {"username": "ts-callback", "password": "s3cret"}  # the scenario's listener


@pytest.fixture
async def served(database_url: str, credentials_key: str) -> AsyncIterator[tuple[Servers, str]]:
    built = build(
        CallbackSettings(
            database_url=database_url,
            callbacks_port=0,
            callbacks_internal_port=0,
            callbacks_provider_cache_s=0,  # the scenario's listener is registered after start
        )
    )
    built.listener.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(built.serve())
    for _ in range(250):
        if built.listener.started:
            break
        await asyncio.sleep(0.02)
    assert built.listener.started
    port = built.listener.servers[0].sockets[0].getsockname()[1]
    yield built, f"http://127.0.0.1:{port}"
    built.listener.should_exit = True
    await task


def _shaped(body: Any, iccid: str) -> dict[str, Any]:
    """The generated body around a ThingSpace callback's core: its own request id if it is a
    usable one, else a fixed one; one of the scenario's devices; the listener's credentials."""
    fields = dict(body) if isinstance(body, dict) else {}
    request_id = fields.get("requestId")
    if not (isinstance(request_id, str) and 0 < len(request_id) <= 64):
        fields["requestId"] = "fuzz-request"
    fields["deviceIds"] = [{"kind": "iccid", "id": iccid}]
    return {**fields, **CREDENTIALS}


def _fuzz(schema_dict: dict, base_url: str, provider_id: int, iccid: str) -> Counter[str]:
    schema = schemathesis.openapi.from_dict(schema_dict)
    operation = schema["/callbacks/thingspace/{service_provider_id}/{path_secret}"]["POST"]
    answers: Counter[str] = Counter()
    session = requests.Session()
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=cases)
    def check(case) -> None:
        aim = AIMS[sum(answers.values()) % len(AIMS)]  # in turn, whatever hypothesis draws
        if aim != "anywhere":
            case.path_parameters = {
                "service_provider_id": str(provider_id),
                "path_secret": "path-secret",
            }
        if aim == "credentials" and isinstance(case.body, dict):
            case.body = {**case.body, **CREDENTIALS}
        if aim == "callback":
            case.body = _shaped(case.body, iccid)
            case.media_type = "application/json"
        response = case.call(base_url=base_url, session=session)
        status = response.status_code
        new = status == 200 and response.json().get("duplicate") is False
        answers[f"{aim} {status}{' new' if new else ''}"] += 1
        case.validate_response(response, checks=CHECKS)

    check()
    return answers


async def test_schemathesis_finds_no_5xx_and_nothing_undocumented(
    served, scenario, sessionmaker
) -> None:
    servers, base_url = served
    iccid = scenario.changes[0].iccid
    answers = await asyncio.to_thread(
        _fuzz, servers.app.openapi(), base_url, scenario.provider.id, iccid
    )
    print("answers by aim:", dict(sorted(answers.items())))
    statuses = Counter(int(key.split()[1]) for key in answers.elements())
    assert sum(statuses.values()) >= EXAMPLES // 2
    assert not [s for s in statuses if s >= 500]
    # Every stage was reached: the path (404), the parser (400), the credentials (401), the
    # store (200).
    assert {200, 400, 401, 404} <= set(statuses), statuses
    async with sessionmaker() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(CarrierCallback)
            .where(CarrierCallback.service_provider_id == scenario.provider.id)
        )
    new = sum(n for key, n in answers.items() if key.endswith(" new"))
    assert new > 0
    assert stored == new  # every callback answered as new is stored, and nothing else
