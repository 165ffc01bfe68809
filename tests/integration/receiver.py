"""A webhook receiver on 127.0.0.1 for the tests: verifies every delivery with the
``standardwebhooks`` package, as an integrator would, and keeps what arrived.

``down`` makes it answer 503 (a receiver that is up but failing); ``stop()``
closes its socket (a receiver that is gone: connections are refused).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Arrival:
    message_id: str
    body: dict[str, Any]
    verified: bool
    received_at: float = field(default_factory=time.time)


@dataclass
class Receiver:
    """Collects deliveries; ``secret`` is set once the subscription exists."""

    secret: str | None = None
    down: bool = False
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if receiver.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                verified = True
                try:
                    assert receiver.secret is not None
                    Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                except WebhookVerificationError:
                    verified = False
                with receiver.lock:
                    receiver.arrivals.append(
                        Arrival(self.headers["webhook-id"], json.loads(body), verified)
                    )
                self.send_response(204 if verified else 400)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def unique(self) -> dict[str, Arrival]:
        """The de-duplicated view: one arrival per webhook-id (the first)."""
        seen: dict[str, Arrival] = {}
        with self.lock:
            for arrival in self.arrivals:
                seen.setdefault(arrival.message_id, arrival)
        return seen
