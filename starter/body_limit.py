"""Request bodies over a size are refused with 413 before they are read whole.

A check after `await request.body()` would already hold the whole body in memory: a hostile
caller could send gigabytes. This ASGI middleware sits in front of every route instead. A
declared `Content-Length` over the limit is answered at once, without reading a byte; a body
sent in chunks (no length, or a lying one) is counted as it streams in, and the first chunk past
the limit ends the request with 413, so no more than the limit is ever buffered.

SendGrid Inbound Parse posts whole emails with attachments (up to 30 MB), so its route has its
own, larger limit (`routing.MAX_FORM_BYTES`); every other route has `MAX_REQUEST_BYTES`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from `receive` so that FastAPI's body parsing passes it on as the 413 it is."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"body: larger than {limit} bytes")


def _describe(limit: int) -> str:
    return f"body: larger than {limit} bytes"


class BodyLimit:
    """`limits` maps a path to its own limit; any other path gets `default`."""

    def __init__(self, app: ASGIApp, default: int, limits: Mapping[str, int] | None = None):
        self.app = app
        self.default = default
        self.limits = dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope.get("path", ""), self.default)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # Whatever the route made of the broken-off body, the answer is the 413.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # BodyTooLarge itself, or whatever a middleware in between made of it (an
            # `@app.middleware("http")` hands it on inside an ExceptionGroup).
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": _describe(limit)}, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
