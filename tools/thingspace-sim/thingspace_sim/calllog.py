"""Record of every call received and every callback attempted, plus counters."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_PATH = "/api/ts/v1/oauth2/token"
LOGIN_PATH = "/api/m2m/v1/session/login"


@dataclass
class CallInfo:
    """Filled in by the route while it handles the call."""

    account: str | None = None
    devices: int | None = None
    access_token: str | None = None
    session_token: str | None = None
    fault: str | None = None


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
    """Call log, callback log and the counters read by /_sim/stats."""

    def __init__(self, limit: int = 1_000_000) -> None:
        self.limit = limit
        self.reset()

    def reset(self) -> None:
        self.calls = Log(self.limit)
        self.callbacks = Log(self.limit)
        self.by_endpoint: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()
        # Actions carried out, per "<action>:<iccid>": a test asserts none happened twice.
        self.actions: Counter[str] = Counter()

    def record_call(
        self, method: str, path: str, endpoint: str, status: int | None, info: CallInfo, t0: float
    ) -> None:
        self.calls.append(
            {
                "method": method,
                "path": path,
                "endpoint": endpoint,
                "account": info.account,
                "status": status,
                "timestamp": datetime.now(UTC).isoformat(),
                "duration_ms": round((time.monotonic() - t0) * 1000, 3),
                "devices": info.devices,
                "access_token": info.access_token,
                "session_token": info.session_token,
                "fault": info.fault,
            }
        )
        self.by_endpoint[endpoint] += 1
        self.by_status[str(status)] += 1
        ok = status is not None and 200 <= status < 300
        if path == TOKEN_PATH:
            self.counters["token_fetches" if ok else "token_refusals"] += 1
        elif path == LOGIN_PATH:
            self.counters["logins" if ok else "login_failures"] += 1
        if status == 429:
            self.counters["rate_limited"] += 1
        elif status is not None and status >= 500:
            self.counters["errors_5xx"] += 1
        if info.fault == "timeout":
            self.counters["timeouts"] += 1
        if info.devices:
            self.counters["devices"] += info.devices

    def record_callback(self, entry: dict[str, Any], outcome: str) -> None:
        entry["outcome"] = outcome
        entry["timestamp"] = datetime.now(UTC).isoformat()
        self.callbacks.append(entry)
        self.counters[f"callbacks_{outcome}"] += 1

    def count_action(self, action: str, iccid: str) -> None:
        self.actions[f"{action}:{iccid}"] += 1

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def stats(self) -> dict[str, Any]:
        names = (
            "token_fetches",
            "token_refusals",
            "logins",
            "login_failures",
            "rate_limited",
            "errors_5xx",
            "timeouts",
            "devices",
            "callbacks_sent",
            "callbacks_failed",
            "callbacks_dropped",
            "callbacks_gave_up",
            "callbacks_duplicated",
        )
        out: dict[str, Any] = {"calls": self.calls.next_index}
        out.update({name: self.counters.get(name, 0) for name in names})
        out["max_actions_per_device"] = max(self.actions.values(), default=0)
        out["by_endpoint"] = dict(self.by_endpoint)
        out["by_status"] = dict(self.by_status)
        return out


def path_template(scope: Scope) -> str:
    """The path with its parameters named (`/callbacks/{account_name}`), for counting."""
    names = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    if not names:
        return scope["path"]
    return "/".join(f"{{{names[p]}}}" if p in names else p for p in scope["path"].split("/"))


class ConnectionCut(Exception):
    """Raised by a handler whose answer is lost with the connection: the middleware starts
    the answer, sends part of its body and returns, so the server closes the connection."""


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

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except ConnectionCut:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            await send(
                {"type": "http.response.body", "body": b'{"requestId": "', "more_body": True}
            )
        finally:
            endpoint = f"{scope['method']} {path_template(scope)}"
            self.recorder.record_call(scope["method"], scope["path"], endpoint, status, info, t0)
