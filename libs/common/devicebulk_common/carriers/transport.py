"""One HTTP call to a carrier: send it, record the redacted exchange, map failures."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
import structlog

from .base import CarrierExchange
from .errors import CarrierError, PermanentCarrierError, error_from_exception, error_from_status
from .redaction import redact_body, redact_text

log = structlog.get_logger(__name__)

Serializer = Callable[[Any], str]


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


ErrorReader = Callable[[httpx.Response, CarrierExchange], CarrierError]


class CarrierTransport:
    """Sends requests through a caller-owned httpx client (timeouts are its job) and
    turns every outcome into either (response, exchange) or a CarrierError."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        serialize: Serializer = compact_json,
        errors: ErrorReader = error_from_status,
    ) -> None:
        """``errors``: the adapter's reading of an answer that is not 2xx (its error codes)."""
        self._errors = errors
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._serialize = serialize

    def url(self, path: str) -> str:
        return f"{self._base_url}{path}"

    async def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> tuple[httpx.Response, CarrierExchange]:
        """Raises CarrierError for a transport failure or an answer that is not 2xx."""
        url = self.url(path)
        request_headers = dict(headers)
        content: bytes | None = None
        request_text = ""
        if form is not None:
            request_text = urlencode(form)
            content = request_text.encode()
            request_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif json_body is not None:
            request_text = self._serialize(json_body)
            content = request_text.encode()
            request_headers.setdefault("Content-Type", "application/json")
        request_headers.setdefault("Accept", "application/json")
        started = time.perf_counter()
        try:
            response = await self._http.request(
                method, url, headers=request_headers, content=content
            )
        except httpx.HTTPError as exc:
            exchange = self._exchange(operation, method, url, request_text, None, "", started)
            error = error_from_exception(exc, exchange)
            log.warning("carrier.transport_error", operation=operation, code=error.code)
            raise error from exc
        exchange = self._exchange(
            operation, method, url, request_text, response.status_code, response.text, started
        )
        log.debug(
            "carrier.exchange",
            operation=operation,
            status=response.status_code,
            duration_ms=round(exchange.duration_ms, 1),
        )
        if not response.is_success:
            raise self._errors(response, exchange)
        return response, exchange

    @staticmethod
    def decode(response: httpx.Response, exchange: CarrierExchange) -> Any:
        """The JSON body of a 2xx answer; a body that is not JSON is a permanent error
        (the action may have been taken: reconcile rather than resend)."""
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise malformed("answer is not JSON", exchange) from exc

    @staticmethod
    def _exchange(
        operation: str,
        method: str,
        url: str,
        request_text: str,
        status: int | None,
        response_text: str,
        started: float,
    ) -> CarrierExchange:
        return CarrierExchange(
            operation=operation,
            method=method,
            url=redact_text(url),
            request_body=redact_body(request_text),
            status_code=status,
            response_body=redact_body(response_text),
            duration_ms=(time.perf_counter() - started) * 1000.0,
        )


def malformed(message: str, exchange: CarrierExchange | None) -> CarrierError:
    return PermanentCarrierError(
        message,
        code="MalformedResponse",
        http_status=exchange.status_code if exchange else None,
        exchange=exchange,
    )
