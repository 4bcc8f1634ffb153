"""What one client can make the server hold.

- ``BodyLimit`` (ASGI middleware): a request body over the limit is a 413, decided from
  ``Content-Length`` before anything is read, or, for a chunked body, as soon as the chunks
  received pass the limit; the body is never read whole.
- ``HeaderTimeoutProtocol``: uvicorn's h11 protocol caps the size of request headers (16 KiB) and
  closes idle keep-alive connections, but waits for ever on a client that sends its headers a
  byte at a time; this subclass closes a connection whose headers are not complete in time.

``uvicorn_config`` puts them together for ``qa serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import h11
import uvicorn
from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from qa.config import Settings

__all__ = ["BodyLimit", "BodyTooLarge", "HeaderTimeoutProtocol", "uvicorn_config"]

# h11's own default, stated: request line and headers together.
MAX_HEADER_BYTES = 16 * 1024
# Seconds an idle keep-alive connection stays open (uvicorn's default).
KEEP_ALIVE_SECONDS = 5


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit. An HTTPException, so that
    FastAPI's body parsing lets it through to the app's error handler."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body larger than {max_bytes} bytes")


class BodyLimit:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, respond: Callable[[str, int, str], Response]
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.respond = respond
        """(path, status, message) -> the error response, in the shape of that path's API"""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = str(BodyTooLarge(self.max_bytes).detail)
        response = self.respond(scope["path"], 413, message)
        response.headers["connection"] = "close"  # the unread body is not worth draining
        await response(scope, receive, send)


class HeaderTimeoutProtocol(H11Protocol):
    """Closes a connection when a request's headers are not complete ``header_timeout`` seconds
    after the connection opened or after the previous response on it finished."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._start_header_timer(None)

    def on_response_complete(self) -> None:
        finished = self.cycle  # a pipelined request may start inside the call below
        super().on_response_complete()
        if not self.transport.is_closing():
            self._start_header_timer(finished)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def _start_header_timer(self, cycle: Any) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow, cycle)

    def _too_slow(self, cycle: Any) -> None:
        """No new request started since the timer was set: its headers are too slow."""
        if self.cycle is not cycle or self.transport.is_closing():
            return
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()


def uvicorn_config(app: ASGIApp, settings: Settings, **overrides: Any) -> uvicorn.Config:
    protocol = type(
        "HeaderTimeoutProtocol",
        (HeaderTimeoutProtocol,),
        {"header_timeout": settings.header_timeout},
    )
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": protocol,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        **overrides,
    }
    return uvicorn.Config(app, **options)
