"""A local HTTP receiver for Slack and webhook tests: scripted answers, recorded requests.

Each request takes the next scripted answer (status, headers, delay before answering);
once the script is used up it answers 200. Every request is kept with its path,
headers and body, so tests can verify what a sender signed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Answer:
    """One scripted answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[Answer] = []
        self.received: list[Received] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.received.append(Received(self.path, dict(self.headers.items()), body))
            answer = self.server.script.pop(0) if self.server.script else Answer()
        time.sleep(answer.delay)
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender gave up waiting (a time-out test)


@dataclass
class Receiver:
    """The running receiver: its URL, its script and what it received."""

    server: _Server

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, *answers: Answer) -> None:
        """Queue answers for the next requests."""
        with self.server.lock:
            self.server.script.extend(answers)

    @property
    def received(self) -> list[Received]:
        """The requests so far."""
        with self.server.lock:
            return list(self.server.received)


@contextmanager
def receiver() -> Iterator[Receiver]:
    """A receiver on a free loopback port until the block ends."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield Receiver(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
