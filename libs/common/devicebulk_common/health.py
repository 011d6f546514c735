"""A tiny HTTP server for the probes and Prometheus: ``/healthz`` (the process is alive),
``/readyz`` (every readiness check passes) and ``/metrics``.

:func:`database_check` is every service's readiness on the database: it answers, and its schema
is the one this release was built for (a pod started before the release's migration Job has run
stays out of its Service until the schema is there)."""

from __future__ import annotations

import asyncio
import functools
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


class SchemaNotReady(Exception):
    """The database answers, but its schema is not (yet) the one this release needs."""


@functools.cache
def schema_revisions() -> tuple[str, frozenset[str]]:
    """This release's newest migration, and every migration it knows."""
    from alembic.script import ScriptDirectory

    from devicebulk_common.db.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("postgresql://"))
    known = frozenset(rev.revision for rev in script.walk_revisions())
    return str(script.get_current_head()), known


def check_schema(versions: Sequence[str]) -> None:
    """Raise :class:`SchemaNotReady` unless the database is at this release's head, or at a
    revision this release does not know (a newer release migrated it: migrations only add what
    the release before them can ignore, so the old pods of a rolling update stay ready)."""
    head, known = schema_revisions()
    if head in versions or any(v not in known for v in versions):
        return
    found = ", ".join(versions) or "none (never migrated)"
    raise SchemaNotReady(f"schema at {found}, this release needs {head}: run devicebulk-migrate")


_ALEMBIC_TABLE = text("SELECT to_regclass('alembic_version') IS NOT NULL")
_ALEMBIC_VERSIONS = text("SELECT version_num FROM alembic_version")


def database_check(engine: AsyncEngine) -> Check:
    """A readiness check: the database answers and its schema is this release's (else
    :class:`SchemaNotReady`, which says which revision it found)."""

    async def database() -> bool:
        async with engine.connect() as conn:
            versions: list[str] = []
            if (await conn.execute(_ALEMBIC_TABLE)).scalar():
                versions = list((await conn.execute(_ALEMBIC_VERSIONS)).scalars())
        check_schema(versions)
        return True

    return database
