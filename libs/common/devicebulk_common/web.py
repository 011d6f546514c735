"""Probes, metrics and bounds for the HTTP services (FastAPI; install devicebulk-common[web]).

How a connection is bounded (each HTTP service binds its settings to these):

- **Headers**: uvicorn has no header read timeout (its ``timeout_keep_alive`` only runs while a
  connection is idle, and every byte that arrives cancels it), so a client trickling a byte
  every 2 s keeps a connection forever. :func:`bounded_http` gives uvicorn's protocol a
  deadline for each request's head (from the connection's start, or the previous answer, to
  the end of the headers) and a cap on its size (431); past either the connection is closed.
- **Bodies**: :class:`BodyGuard`, an ASGI guard, caps a body's size while it streams (declared
  or chunked: 413 as soon as it is exceeded, never read whole first) and gives the whole body a
  deadline (408). Both answers close the connection.
- **Connections**: uvicorn's ``limit_concurrency`` (503 past it) and ``timeout_keep_alive``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devicebulk_common.health import database_check

log = structlog.get_logger(__name__)


def health_router() -> APIRouter:
    """``/healthz`` (alive), ``/readyz`` (the app's ``state.engine`` answers), ``/metrics``.

    ``/readyz`` never says why the database is unready (its error text names hosts and users);
    the reason is logged."""
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        try:
            await database_check(request.app.state.engine)()
        except Exception as exc:
            log.warning("readiness: the database does not answer", error=repr(exc))
            return JSONResponse({"status": "unready", "database": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready", "database": "ok"})

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


# ---- bodies -------------------------------------------------------------------------------------


class BodyGuard:
    """ASGI middleware: a request body larger than ``max_bytes`` is answered 413, one that has
    not fully arrived ``timeout_s`` after the request began is answered 408 (RFC 9457 problems,
    ``Connection: close``). The size is checked against ``Content-Length`` before anything is
    read and again on every chunk (chunked bodies declare nothing), so no more than
    ``max_bytes`` plus one chunk is ever held. Once it has answered, the app sees the client
    gone (``http.disconnect``) and whatever the app still sends is dropped.

    ``problem_base``: the app's problem type URI prefix; the answers are then typed
    ``{problem_base}body-too-large`` and ``{problem_base}body-too-slow`` (``about:blank``
    without it)."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, timeout_s: float, problem_base: str | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.problem_base = problem_base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self.refuse(send, 413)
            return
        guarded = _GuardedCycle(self, receive, send)
        try:
            await self.app(scope, guarded.receive, guarded.send)
        except Exception:
            if not guarded.answered:
                raise
            # The app failed on the body we cut off; the client has its answer already.

    async def refuse(self, send: Send, status: int) -> None:
        """The answer for a body too large (413) or too slow (408)."""
        slug, title, detail = (
            (
                "body-too-large",
                "Request body too large",
                f"The body is larger than {self.max_bytes} bytes.",
            )
            if status == 413
            else ("body-too-slow", "Request body too slow", "The body did not arrive in time.")
        )
        problem_type = "about:blank" if self.problem_base is None else self.problem_base + slug
        await _answer(send, status, title, detail, problem_type)


class _GuardedCycle:
    def __init__(self, guard: BodyGuard, receive: Receive, send: Send) -> None:
        self._guard = guard
        self._receive = receive
        self._send = send
        self._deadline = time.monotonic() + guard.timeout_s
        self._received = 0
        self._complete = False
        self._started = False
        self.answered = False

    async def receive(self) -> Message:
        if self.answered:
            return {"type": "http.disconnect"}
        if self._complete:  # after the body only a disconnect comes: no deadline for it
            return await self._receive()
        try:
            async with asyncio.timeout(self._deadline - time.monotonic()):
                message = await self._receive()
        except TimeoutError:
            await self._refuse(408)
            return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._guard.max_bytes:
                await self._refuse(413)
                return {"type": "http.disconnect"}
            self._complete = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self._started = True
        await self._send(message)

    async def _refuse(self, status: int) -> None:
        log.info("request body refused", status=status, received=self._received)
        if not self._started:
            self.answered = True
            await self._guard.refuse(self._send, status)
        # An answer under way cannot be replaced: the app sees the client gone instead.
        self.answered = True


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(send: Send, status: int, title: str, detail: str, problem_type: str) -> None:
    body = json.dumps(
        {"type": problem_type, "title": title, "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ---- connections and request heads ---------------------------------------------------------------


def bounded_http(*, header_timeout_s: float, max_header_bytes: int) -> type[asyncio.Protocol]:
    """uvicorn's default HTTP protocol (httptools) with a deadline and a size cap on each
    request's head; pass it as ``uvicorn.Config(http=...)``. Needs ``uvicorn[standard]``."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttp(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None
        _head_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            in_head = self._head_timer is not None
            super().data_received(data)
            if in_head and self._head_timer is not None:  # the head is still not complete
                self._head_bytes += len(data)
                if self._head_bytes > max_header_bytes:
                    self._disarm_head_timer()
                    self._refuse(b"431 Request Header Fields Too Large")

        def on_headers_complete(self) -> None:
            self._disarm_head_timer()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_head_timer()  # the next request's head has its own deadline

        def _arm_head_timer(self) -> None:
            self._disarm_head_timer()
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_too_slow)

        def _disarm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if self.transport.is_closing():
                return
            if self._head_bytes:  # a head begun and never finished: slow, or a slow-loris
                self._refuse(b"408 Request Timeout")
            else:  # nothing sent: an idle connection, closed quietly
                self.transport.close()

        def _refuse(self, status_line: bytes) -> None:
            self.transport.write(
                b"HTTP/1.1 " + status_line + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            self.transport.close()

    return BoundedHttp


def server_config(
    app: Any,
    *,
    host: str,
    port: int,
    max_connections: int,
    keep_alive_s: int,
    header_timeout_s: float,
    max_header_bytes: int,
    graceful_shutdown_s: int = 20,
) -> Any:
    """A ``uvicorn.Config`` with every connection bound (see the module's docstring); wrap the
    app in :class:`BodyGuard` for its bodies."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=bounded_http(header_timeout_s=header_timeout_s, max_header_bytes=max_header_bytes),
        limit_concurrency=max_connections,
        timeout_keep_alive=keep_alive_s,
        timeout_graceful_shutdown=graceful_shutdown_s,
        log_config=None,
        access_log=False,
    )
