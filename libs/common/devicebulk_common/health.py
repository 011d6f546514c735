"""A tiny HTTP server for the probes and Prometheus: ``/healthz`` (the process is alive),
``/readyz`` (every readiness check passes) and ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger(__name__)

Check = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 5.0
REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class HealthServer:
    def __init__(self, *, host: str, port: int, checks: Sequence[Check]) -> None:
        self._host = host
        self._port = port
        self._checks = list(checks)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        log.info("health server listening", port=self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def ready(self) -> bool:
        for check in self._checks:
            try:
                if not await asyncio.wait_for(check(), CHECK_TIMEOUT_S):
                    return False
            except Exception as exc:
                log.warning(
                    "readiness check failed", check=getattr(check, "__name__", "?"), error=repr(exc)
                )
                return False
        return True

    async def _respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        if path == "/healthz":
            return 200, "text/plain", b"ok\n"
        if path == "/readyz":
            if await self.ready():
                return 200, "text/plain", b"ready\n"
            return 503, "text/plain", b"not ready\n"
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        return 404, "text/plain", b"not found\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_S)
            while (await asyncio.wait_for(reader.readline(), READ_TIMEOUT_S)) not in (
                b"\r\n",
                b"\n",
                b"",
            ):
                pass
            method, target, *_ = request_line.decode("latin-1").split() or ["", ""]
            status, content_type, body = await self._respond(method, target.split("?", 1)[0])
            head = (
                f"HTTP/1.1 {status} {REASONS[status]}\r\n"
                f"Content-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (TimeoutError, ValueError, ConnectionError):
            pass
        finally:
            writer.close()


def database_check(engine: AsyncEngine) -> Check:
    """A readiness check: the database answers ``SELECT 1``."""

    async def database() -> bool:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT 1"))).scalar() == 1

    return database
