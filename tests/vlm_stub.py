"""A real OpenAI-compatible chat endpoint on loopback for the description tests (not a mock object).

``http.server`` in a thread answers POST /v1/chat/completions the way Ollama and vLLM do;
it records every request (headers, JSON body) so a test can read what was sent, and
answers with ``answer(prompt, has_image)``, or after ``delay`` seconds (a slow model).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class StubVLM:
    url: str = ""  # the base URL, as DESCRIPTIONS_API_URL takes it
    answer: Callable[[str, bool], str] = lambda prompt, has_image: f"a described object ({prompt})"
    delay: float = 0.0
    requests: list[dict] = field(default_factory=list)


def _handler(stub: StubVLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stub.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if self.path != "/v1/chat/completions":
                self.send_error(404, "no such route")
                return
            time.sleep(stub.delay)
            parts = body["messages"][0]["content"]
            prompt = next(p["text"] for p in parts if p["type"] == "text")
            has_image = any(p["type"] == "image_url" and p["image_url"]["url"].startswith("data:image/") for p in parts)
            reply = {
                "id": "stub",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": stub.answer(prompt, has_image)}}],
            }
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:  # quiet test output
            pass

    return Handler


@contextmanager
def running_stub(stub: StubVLM | None = None) -> Iterator[StubVLM]:
    stub = stub or StubVLM()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (a port bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
