"""A request-body size limit as plain ASGI middleware: 413 before the body is read where the client
declares its length, and as soon as the limit is crossed where it streams a chunked body."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException

Scope = dict[str, Any]


def _detail(status: int, message: str) -> list[dict[str, Any]]:
    return [{"loc": ["body"], "msg": message, "type": "body_too_large" if status == 413 else "bad_request"}]


class _TooLarge(HTTPException):
    # an HTTPException, because FastAPI turns any other error raised while reading the body into a 400
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _detail(413, f"request body over {max_bytes:,} bytes"))


class BodySizeLimit:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reply(self, send: Any, status: int, message: str) -> None:
        body = json.dumps({"detail": _detail(status, message)}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await self._reply(send, 400, "Content-Length is not a number")
                return
            if length > self.max_bytes:
                await self._reply(send, 413, f"request body of {length:,} bytes; at most {self.max_bytes:,}")
                return
        received = 0
        started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reply(send, 413, f"request body over {self.max_bytes:,} bytes")
