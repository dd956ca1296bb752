"""A fake carrier speaking Baton's tender protocol over real HTTP on loopback, for tests and the simulator.

    with FakeCarrierServer(accept_rate=0.8, latency_s=0.01, seed=1) as carrier:
        carrier.url            # http://127.0.0.1:<port>
        carrier.outage = True  # every request now gets 503 (or the connection is dropped with drop=True)

Configurable: ``accept_rate`` (0..1, seeded), ``latency_s`` per request, ``outage`` (503) or
``drop_connections`` (close without answering), ``pending`` (answer ``pending``; decide later).
Every tender received is kept in ``received`` (JSON bodies) and withdrawals in ``withdrawn``.
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class FakeCarrierServer:
    """A threaded HTTP server on ``127.0.0.1`` (port chosen by the OS unless given)."""

    def __init__(self, accept_rate: float = 1.0, latency_s: float = 0.0, seed: int = 0, pending: bool = False,
                 port: int = 0) -> None:
        self.accept_rate = accept_rate
        self.latency_s = latency_s
        self.pending = pending
        self.outage = False
        self.drop_connections = False
        self.received: list[dict[str, Any]] = []
        self.withdrawn: list[str] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-carrier", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _decide(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.received.append(body)
            if self.pending:
                return {"tender_id": body.get("tender_id"), "decision": "pending"}
            accepted = self._rng.random() < self.accept_rate
        return {"tender_id": body.get("tender_id"), "decision": "accepted" if accepted else "rejected",
                "reason": "" if accepted else "no driver available"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _gate(self) -> bool:
                if fake.latency_s:
                    time.sleep(fake.latency_s)
                if fake.drop_connections:
                    self.close_connection = True
                    self.connection.close()
                    return False
                if fake.outage:
                    self._send(503, {"error": "service unavailable"})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._gate():
                    return
                if self.path == "/health":
                    self._send(200, {"status": "ok"})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if not self._gate():
                    return
                if self.path != "/tenders":
                    self._send(404, {"error": "not found"})
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, {"error": "body is not JSON"})
                    return
                self._send(200, fake._decide(body))

            def do_DELETE(self) -> None:
                if not self._gate():
                    return
                with fake._lock:
                    fake.withdrawn.append(self.path.rsplit("/", 1)[-1])
                self._send(200, {"withdrawn": True})

        return Handler
