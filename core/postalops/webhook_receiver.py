"""A webhook receiver on 127.0.0.1 for tests (and for trying an endpoint by hand).

``Receiver`` runs :mod:`http.server` in a thread, answers each POST with the next status of
``answers`` (then 200), keeps every request it got, and can be started late on a port chosen
before (so a delivery first meets a refused connection)::

    rx = Receiver(answers=[500])          # the first POST gets 500, the next ones 200
    url = rx.url                          # the port is reserved, nothing listens yet
    ...emit, see the try fail with a refused connection...
    rx.start()
    got = rx.wait_for(1)                  # [Received(headers, body, json)]
    assert verify(secret, got[0].headers["X-PostalOps-Signature"], got[0].body)
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "Receiver",
]


@dataclass
class Received:
    path: str
    headers: Any  # case-insensitive (urllib sends X-postalops-signature)
    body: bytes
    status: int  # what the receiver answered

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, answers: list[int] | None = None, port: int | None = None) -> None:
        self.answers = list(answers or [])
        self.received: list[Received] = []
        self.port = port or _free_port()
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer._lock:
                    status = outer.answers.pop(0) if outer.answers else 200
                    outer.received.append(
                        Received(self.path, self.headers, body, status)
                    )
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver error")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ok(self) -> list[Received]:
        """The requests answered 2xx."""
        with self._lock:
            return [r for r in self.received if r.status < 300]

    def wait_for(self, n: int, timeout: float = 20.0, *, ok: bool = True) -> list[Received]:
        """Wait until ``n`` requests (answered 2xx unless ``ok=False``) have arrived."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.ok() if ok else list(self.received)
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(f"receiver got {len(got)} of {n} requests: {self.received}")
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
