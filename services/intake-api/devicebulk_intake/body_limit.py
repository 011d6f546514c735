"""A request body bound, enforced while the body streams in (chunked or not).

A declared ``Content-Length`` past the bound is answered 413 before a byte is read; a body that
grows past it (a chunked upload, or a client that lied) stops being read at the bound. The
bound is sized to the device limit (``IntakeSettings.body_limit``); routes may read less (the
CSV upload stops at its own, smaller, bound).
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devicebulk_intake.errors import MEDIA_TYPE, PROBLEM_BASE, Problem

SLUG = "body-too-large"
TITLE = "Request body too large"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")
        self.limit = limit


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(scope, send, self.max_bytes)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) < 20 else None
    return None


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    body = Problem(
        type=PROBLEM_BASE + SLUG,
        title=TITLE,
        status=413,
        detail=BodyTooLarge(limit).detail,
        instance=scope.get("path"),
    ).model_dump_json(exclude_none=True)
    raw = body.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(raw)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})
