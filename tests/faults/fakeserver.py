"""Fake OpenAI-compatible servers on 127.0.0.1 that misbehave on purpose."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def good_reply(model: str | None = "m", content: str = "hello") -> dict:
    reply: dict = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    }
    if model is not None:
        reply["model"] = model
    return reply


@contextmanager
def fake_server(
    respond: Callable[[BaseHTTPRequestHandler], None], models: Callable[[], list[str]] = lambda: ["m"]
) -> Iterator[tuple[str, threading.Event]]:
    """Serve ``respond(handler)`` for every POST and ``models()`` as /v1/models; yields (url, got_a_request)."""
    got = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(200, b"{}")
            else:
                self._send(200, json.dumps({"data": [{"id": m} for m in models()]}).encode())

        def do_POST(self) -> None:
            self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # what a test may read
            got.set()
            try:
                respond(self)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _send(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got
    finally:
        server.shutdown()
        server.server_close()


def send_json(obj: object) -> Callable[[BaseHTTPRequestHandler], None]:
    def respond(h: BaseHTTPRequestHandler) -> None:
        h._send(200, json.dumps(obj).encode())  # type: ignore[attr-defined]

    return respond


def trickle(seconds: float) -> Callable[[BaseHTTPRequestHandler], None]:
    """A body that never ends in time: one byte a second."""

    def respond(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(1)

    return respond


def hang(seconds: float) -> Callable[[BaseHTTPRequestHandler], None]:
    def respond(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)

    return respond
