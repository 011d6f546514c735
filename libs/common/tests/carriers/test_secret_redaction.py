"""No secret the adapter holds reaches an audited exchange or a log line."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import structlog

from devicebulk_common.carriers import CarrierError, redact_body
from devicebulk_common.carriers.base import CarrierExchange
from devicebulk_common.carriers.redaction import SecretRegistry, redact_text
from devicebulk_common.logging import configure_logging

from .helpers import CLIENT_SECRET, DEVICE, PASSWORD, thingspace

M2M = "/m2m/v1"
PATH_SECRET = "path-secret-4f9a1c"
CALLBACK_PASSWORD = "callback-pw-77e2"
CALLBACK_URL = f"https://cb.example/callbacks/thingspace/4/{PATH_SECRET}"


def _echo(status: int):
    """A carrier that echoes everything it was sent: headers, URL and body."""

    def answer(request: httpx.Request) -> httpx.Response:
        echoed = {
            "requestId": "req-1",
            "echo": {
                "headers": dict(request.headers),
                "url": str(request.url),
                "body": request.content.decode(),
            },
        }
        return httpx.Response(status, json=echoed)

    return answer


def _texts(exchange: CarrierExchange | None) -> list[str]:
    if exchange is None:
        return []
    return [exchange.url, exchange.request_body, exchange.response_body]


@pytest.fixture
def json_logs():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(level="DEBUG", fmt="json", service="test")
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


async def test_every_secret_is_masked_in_every_exchange_and_log_line(json_logs, capsys):
    log = structlog.get_logger("test")
    texts: list[str] = []
    async with thingspace() as ts:
        ts.router.post(f"{M2M}/devices/actions/activate").mock(side_effect=_echo(200))
        ts.router.post(f"{M2M}/callbacks/{ts.adapter.account_name}").mock(side_effect=_echo(200))
        ts.router.post(f"{M2M}/devices/actions/suspend").mock(side_effect=_echo(400))
        activated = await ts.adapter.activate([DEVICE], service_plan="P1", zip_code="62701")
        texts += _texts(activated.exchange)
        registered = await ts.adapter.register_callback(CALLBACK_URL, "cb-user", CALLBACK_PASSWORD)
        texts += _texts(registered)
        with pytest.raises(CarrierError) as refused:
            await ts.adapter.suspend([DEVICE])
        texts += _texts(refused.value.exchange)
        access, session = "access-1", "session-1"  # the harness's first tokens
        token_answer = ts.token_route.calls[0].response.text
        secrets = [CLIENT_SECRET, PASSWORD, PATH_SECRET, CALLBACK_PASSWORD, access, session]
        assert access in token_answer  # the harness really handed these out
        for secret in secrets:
            log.info("carrier.debug", detail=f"sent {secret}", url=CALLBACK_URL)
            log.warning(f"failed with {secret}", Authorization=f"Bearer {secret}")
            logging.getLogger("sqlalchemy").error("params: %s", secret)
            try:
                raise ValueError(f"carrier said {secret}")
            except ValueError:
                log.exception("boom")
    texts.append(capsys.readouterr().out)
    for secret in secrets:
        for each in texts:
            assert secret not in each, (secret, each)
    assert "62701" in activated.exchange.request_body  # ordinary values are kept


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "apiKey",
        "api_key",
        "clientSecret",
        "client_secret",
        "session_token",
        "sessionToken",
        "Password",
        "authorization",
        "VZ-M2M-Token",
        "secret",
        "credentials",
    ],
)
def test_secret_keys_are_masked_whatever_their_spelling(key):
    body = json.dumps({"outer": {key: "s3cr3t-value"}, "requestId": "r-1"})
    assert json.loads(redact_body(body)) == {"outer": {key: "***"}, "requestId": "r-1"}
    assert "s3cr3t-value" not in redact_body(f"{key}=s3cr3t-value&requestId=r-1")
    assert "s3cr3t-value" not in redact_body(f'broken {{"{key}": "s3cr3t-value", [')


async def test_a_callback_list_answer_is_audited_without_path_secrets():
    async with thingspace() as ts:
        ts.router.get(f"{M2M}/callbacks/{ts.adapter.account_name}").mock(
            return_value=httpx.Response(
                200, json=[{"accountName": "a", "name": "CarrierService", "url": CALLBACK_URL}]
            )
        )
        await ts.adapter.list_callbacks()
        exchange = ts.router.calls.last.response.text
    # what the audit would keep of that answer
    assert PATH_SECRET not in redact_body(exchange)


def test_callback_path_secret_is_masked_in_urls():
    masked = redact_text(f"registered {CALLBACK_URL}?x=1")
    assert PATH_SECRET not in masked
    assert "/callbacks/thingspace/4/***?x=1" in masked


def test_credentials_outlive_any_number_of_rotated_tokens():
    registry = SecretRegistry(max_rotating=6)
    registry.register("client-secret-kept")
    for n in range(20):
        registry.register(f"session-token-{n:03d}", rotating=True)
    masked = registry.mask("client-secret-kept session-token-000 session-token-019")
    assert masked == "*** session-token-000 ***"
