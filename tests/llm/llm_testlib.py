"""Test helpers: a scripted OpenAI-compatible chat server and label-store writer processes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = "hang"  # a script answer that makes the handler block until the server stops

#: a script maps (request body, request number) to (status, body) or HANG
Script = Callable[[dict, int], "tuple[int, str | bytes | dict] | str"]


def chat_reply(content: str, **message: object) -> dict:
    """A chat-completions response body with one choice."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": "stop",
            }
        ],
    }


def caption_of(body: dict) -> str:
    """The caption quoted in a label prompt (the text between the first pair of quotes)."""
    user = body["messages"][-1]["content"]
    return user.split('"')[1]


class ChatServer:
    """``http.server`` on 127.0.0.1 speaking /v1/chat/completions with scripted answers.

    Bounded: at most ``max_requests`` are answered (later ones get 503), request bodies
    are capped at 1 MiB, and hanging handlers are released when the server stops.
    """

    def __init__(self, script: Script, max_requests: int = 1000, delay: float = 0.0) -> None:
        self.script = script
        self.max_requests = max_requests
        self.delay = delay
        self.requests: list[dict] = []
        self.auth: list[str] = []
        self.hanging = 0
        self.release = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                if length > 1 << 20 or self.path != "/v1/chat/completions":
                    return self._send(400, b"{}")
                body = json.loads(self.rfile.read(length))
                with outer._lock:
                    number = len(outer.requests)
                    outer.requests.append(body)
                    outer.auth.append(self.headers.get("Authorization", ""))
                if number >= outer.max_requests:
                    return self._send(503, b"{}")
                if outer.delay:
                    time.sleep(outer.delay)
                answer = outer.script(body, number)
                if answer == HANG:
                    with outer._lock:
                        outer.hanging += 1
                    outer.release.wait(timeout=30)
                    return None
                status, payload = answer
                if isinstance(payload, dict):
                    payload = json.dumps(payload)
                if isinstance(payload, str):
                    payload = payload.encode()
                return self._send(status, payload)

            def _send(self, status, payload):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout): fine
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL (``.../v1``) to give the annotator."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------------------
# Label-store writers run in spawned processes (importable by name from tests/llm).

KEY = ("rules", "writer-test", "hash0")


def write_labels(path: str, worker: int, n: int, batch: int) -> None:
    """Write ``n`` unique labels of this worker plus ``n`` shared ones, ``batch`` per commit."""
    from agents.llm.store import LabelStore

    store = LabelStore(path)
    for start in range(0, n, batch):
        items = [(f"w{worker}-c{i}", (worker + i) % 2) for i in range(start, min(n, start + batch))]
        items += [(f"shared-c{i}", worker / 10) for i in range(start, min(n, start + batch))]
        store.put_labels(KEY, items)
    store.close()


def write_then_hang(path: str, committed, ready) -> None:
    """Commit batches (counting them in ``committed``), then hang inside an open transaction."""
    from agents.llm.store import LabelStore

    store = LabelStore(path)
    for b in range(20):
        store.put_labels(KEY, [(f"done-{b}-{i}", 1.0) for i in range(5)])
        with committed.get_lock():
            committed.value += 1
    with store._transaction() as conn:  # killed in here: this batch must vanish
        conn.executemany(
            "INSERT INTO labels VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*KEY, f"uncommitted-{i}", 1.0, "", 0.0) for i in range(100)],
        )
        ready.set()
        time.sleep(60)
