"""What the HTTP server itself bounds: how long a request may take to arrive, and
how many connections one process holds.

uvicorn closes a keep-alive connection that stays idle after a response, but
has no limit on a request that never finishes arriving: a client that opens a
connection and sends nothing, or half its headers, or half its body, holds it
(and a file descriptor) for good. :class:`RequestDeadlineProtocol` is uvicorn's
httptools protocol with a deadline: a request must arrive whole — headers and
body — within ``RECTIFY_HTTP_REQUEST_TIMEOUT`` seconds of the connection
opening (or of the previous response), else the connection is closed. An
endpoint already waiting for the body is told the client disconnected.

``RECTIFY_HTTP_MAX_CONNECTIONS`` is uvicorn's ``limit_concurrency`` per
process: past it, new requests are answered 503 at once rather than queued.
``rectify serve`` uses both under uvicorn, and under gunicorn through
:class:`RectifyUvicornWorker`.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker

REQUEST_TIMEOUT_VARIABLE = "RECTIFY_HTTP_REQUEST_TIMEOUT"
MAX_CONNECTIONS_VARIABLE = "RECTIFY_HTTP_MAX_CONNECTIONS"
# Generous for a 20 MiB evidence upload from a phone, short against a client
# that holds connections open on purpose.
DEFAULT_REQUEST_TIMEOUT_SECONDS = 15.0
# Well under the usual 1,024 open files, leaving room for database connections
# and log files.
DEFAULT_MAX_CONNECTIONS = 500
KEEP_ALIVE_SECONDS = 5


def request_timeout() -> float:
    """Seconds a request has to arrive whole; ValueError if the setting is malformed."""
    text = os.environ.get(REQUEST_TIMEOUT_VARIABLE, "").strip()
    try:
        value = float(text) if text else DEFAULT_REQUEST_TIMEOUT_SECONDS
    except ValueError:
        raise ValueError(f"{REQUEST_TIMEOUT_VARIABLE} must be seconds, not {text!r}") from None
    if not 0 < value <= 3600:
        raise ValueError(f"{REQUEST_TIMEOUT_VARIABLE} must be between 0 and 3600 seconds")
    return value


def max_connections() -> int:
    """Connections one process serves at once; ValueError if the setting is malformed."""
    text = os.environ.get(MAX_CONNECTIONS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_CONNECTIONS
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= 100_000:
        raise ValueError(
            f"{MAX_CONNECTIONS_VARIABLE} must be a whole number from 1 to 100000, not {text!r}"
        )
    return int(text)


class RequestDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing a connection whose request is not whole in time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._request_timeout = request_timeout()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_complete(self) -> None:
        self._disarm()  # the request is whole: the endpoint takes as long as it takes
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection has its own deadline

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self._request_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.logger.info(
                "closing a connection from %s: no whole request within %g s",
                f"{self.client[0]}:{self.client[1]}" if self.client else "?",
                self._request_timeout,
            )
            self.transport.close()


def uvicorn_limits() -> dict[str, Any]:
    """The uvicorn settings that bound clients, for ``uvicorn.run`` or ``Config``."""
    return {
        "http": f"{__name__}:RequestDeadlineProtocol",
        "limit_concurrency": max_connections(),
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
    }


class RectifyUvicornWorker(UvicornWorker):
    """gunicorn's uvicorn worker with the same bounds as a single uvicorn process."""

    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012 - the base class's own attribute
        "loop": "auto",
        **uvicorn_limits(),
    }
