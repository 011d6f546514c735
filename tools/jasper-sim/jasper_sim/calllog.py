"""Record of every call received, edits carried out per device, and counters."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class CallInfo:
    """Filled in by the route while it handles the call."""

    account: str | None = None
    user: str | None = None
    iccid: str | None = None
    fault: str | None = None
    error_code: str | None = None


class Log:
    """Append-only list with stable absolute indices; drops its oldest tenth when full."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.base = 0
        self.items: list[dict[str, Any]] = []

    def append(self, item: dict[str, Any]) -> None:
        item["index"] = self.base + len(self.items)
        self.items.append(item)
        if len(self.items) > self.limit:
            drop = max(1, self.limit // 10)
            del self.items[:drop]
            self.base += drop

    def since(self, index: int) -> list[dict[str, Any]]:
        return self.items[max(0, index - self.base) :]

    @property
    def next_index(self) -> int:
        return self.base + len(self.items)


class Recorder:
    def __init__(self, limit: int = 1_000_000) -> None:
        self.limit = limit
        self.reset()

    def reset(self) -> None:
        self.calls = Log(self.limit)
        self.by_endpoint: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.by_error_code: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()
        # Edits accepted per ICCID (each PUT that changed or scheduled something): a test
        # asserts that no device was edited twice.
        self.edits: Counter[str] = Counter()

    def record_call(
        self,
        method: str,
        path: str,
        endpoint: str,
        status: int | None,
        info: CallInfo,
        t0: float,
        received_at: datetime,
    ) -> None:
        self.calls.append(
            {
                "received_at": received_at.isoformat(),
                "method": method,
                "path": path,
                "endpoint": endpoint,
                "account": info.account,
                "user": info.user,
                "iccid": info.iccid,
                "status": status,
                "errorCode": info.error_code,
                "timestamp": datetime.now(UTC).isoformat(),
                "duration_ms": round((time.monotonic() - t0) * 1000, 3),
                "fault": info.fault,
            }
        )
        self.by_endpoint[endpoint] += 1
        self.by_status[str(status)] += 1
        if info.error_code:
            self.by_error_code[info.error_code] += 1
        if info.fault:
            self.counters[info.fault] += 1
        if status == 401:
            self.counters["auth_refused"] += 1
        elif status is not None and status >= 500:
            self.counters["errors_5xx"] += 1

    def count_edit(self, iccid: str) -> None:
        self.edits[iccid] += 1

    def stats(self) -> dict[str, Any]:
        names = ("rate_limited", "concurrency_refused", "errors_5xx", "timeouts", "auth_refused")
        out: dict[str, Any] = {"calls": self.calls.next_index}
        out.update({name: self.counters.get(name, 0) for name in names})
        out["edits"] = sum(self.edits.values())
        out["max_edits_per_device"] = max(self.edits.values(), default=0)
        out["by_endpoint"] = dict(self.by_endpoint)
        out["by_status"] = dict(self.by_status)
        out["by_error_code"] = dict(self.by_error_code)
        return out


def path_template(scope: Scope) -> str:
    """The path with its parameters named (`/devices/{iccid}`), for counting."""
    names = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    if not names:
        return scope["path"]
    return "/".join(f"{{{names[p]}}}" if p in names else p for p in scope["path"].split("/"))


class CallLogMiddleware:
    """Pure ASGI middleware: records every call outside /_sim with the status answered."""

    def __init__(self, app: ASGIApp, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        info = CallInfo()
        scope["sim.call"] = info
        status: int | None = None
        t0 = time.monotonic()
        received_at = datetime.now(UTC)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            endpoint = f"{scope['method']} {path_template(scope)}"
            self.recorder.record_call(
                scope["method"], scope["path"], endpoint, status, info, t0, received_at
            )
