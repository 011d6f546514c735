"""Schemathesis against the receiver's own OpenAPI, on a real server: no 5xx, every status
and content type documented. Bounded: a fixed number of examples, two thirds aimed at a
registered listener (some with its credentials, so bodies reach the store), the rest anywhere;
bodies that fit the schema and bodies that do not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from devicebulk_callbacks.main import Servers, build
from devicebulk_callbacks.settings import CallbackSettings

EXAMPLES = 150
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


@pytest.fixture
async def served(database_url: str, credentials_key: str) -> AsyncIterator[tuple[Servers, str]]:
    built = build(
        CallbackSettings(database_url=database_url, callbacks_port=0, callbacks_internal_port=0)
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


def _fuzz(schema_dict: dict, base_url: str, provider_id: int) -> list[int]:
    schema = schemathesis.openapi.from_dict(schema_dict)
    operation = schema["/callbacks/thingspace/{service_provider_id}/{path_secret}"]["POST"]
    statuses: list[int] = []
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
    @hypothesis.given(case=cases, aim=st.sampled_from(["anywhere", "listener", "credentials"]))
    def check(case, aim: str) -> None:
        if aim != "anywhere":
            case.path_parameters = {
                "service_provider_id": str(provider_id),
                "path_secret": "path-secret",
            }
        if aim == "credentials" and isinstance(case.body, dict):
            case.body = {**case.body, "username": "ts-callback", "password": "s3cret"}
        response = case.call(base_url=base_url, session=session)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    check()
    return statuses


async def test_schemathesis_finds_no_5xx_and_nothing_undocumented(served, scenario) -> None:
    servers, base_url = served
    statuses = await asyncio.to_thread(_fuzz, servers.app.openapi(), base_url, scenario.provider.id)
    assert len(statuses) >= EXAMPLES // 2
    assert not [s for s in statuses if s >= 500]
    assert {400, 404} <= set(statuses)  # the fuzzing reached the parser, not only the path
