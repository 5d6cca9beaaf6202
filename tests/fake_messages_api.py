"""A scripted fake of Anthropic's Messages API on 127.0.0.1, for the real ``anthropic`` SDK.

Each request takes the next scripted reply: a tool call, an HTTP error, raw bytes, or a
delay before one of those. Requests are recorded so tests can read what the SDK sent.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def tool_call(tool_input: dict[str, Any], name: str = "decide") -> Reply:
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": "fake-model",
        "content": [{"type": "tool_use", "id": "toolu_fake", "name": name, "input": tool_input}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }
    return Reply(body=json.dumps(message).encode())


def decision(
    action: str, targets: list[str] | None = None, merged: str | None = None, reason: str = "ok"
) -> Reply:
    answer: dict[str, Any] = {"action": action, "targets": targets or [], "reason": reason}
    if merged is not None:
        answer["merged_text"] = merged
    return tool_call(answer)


def facts(items: list[str]) -> Reply:
    return tool_call({"facts": items}, name="record_facts")


def error(status: int, retry_after_ms: int = 5) -> Reply:
    body = json.dumps({"type": "error", "error": {"type": "api_error", "message": f"fake {status}"}})
    return Reply(status=status, body=body.encode(), headers={"retry-after-ms": str(retry_after_ms)})


def slow(reply: Reply, seconds: float) -> Reply:
    return Reply(reply.status, reply.body, reply.headers, delay=seconds)


class FakeMessagesAPI:
    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.finished: list[float] = []  # when each reply was fully sent
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append({"path": self.path, "body": payload})
                    reply = fake.script.pop(0) if fake.script else fake.default_reply(payload)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(reply.body)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as it should for a slow reply
                with fake._lock:
                    fake.finished.append(time.monotonic())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeMessagesAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def default_reply(self, request: dict[str, Any]) -> Reply:
        """What an unscripted request gets: a server error."""
        return error(500)

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def prompt(self, index: int = -1) -> str:
        body = self.requests[index]["body"]
        return str(body["messages"][0]["content"])

    def system(self, index: int = -1) -> str:
        return str(self.requests[index]["body"]["system"])
