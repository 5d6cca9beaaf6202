"""A scripted fake LLM API on 127.0.0.1 for the real SDKs: Anthropic's Messages API
(``POST /v1/messages``) and the OpenAI-compatible chat completions (``POST /v1/chat/completions``).

Each request takes the next scripted reply: an answer (rendered as the protocol asked has it: a
tool_use block, a function call, or, from a server without tool support, JSON in the message
text), an HTTP error, raw bytes, or a delay before one of those. Requests are recorded so tests
can read what the SDK sent.
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
    body: bytes = b""  # sent as is, unless an answer or an error is given
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    answer: dict[str, Any] | None = None  # the tool's arguments
    tool: str = "decide"
    error: str | None = None  # an error message, in the protocol's error body


def tool_call(tool_input: dict[str, Any], name: str = "decide") -> Reply:
    return Reply(answer=tool_input, tool=name)


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
    return Reply(status=status, headers={"retry-after-ms": str(retry_after_ms)}, error=f"fake {status}")


def slow(reply: Reply, seconds: float) -> Reply:
    return Reply(reply.status, reply.body, reply.headers, seconds, reply.answer, reply.tool, reply.error)


def _anthropic(reply: Reply) -> bytes:
    if reply.error is not None:
        return json.dumps({"type": "error", "error": {"type": "api_error", "message": reply.error}}).encode()
    message = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": "fake-model",
        "content": [{"type": "tool_use", "id": "toolu_fake", "name": reply.tool, "input": reply.answer}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }
    return json.dumps(message).encode()


def _chat(reply: Reply, with_tools: bool) -> bytes:
    if reply.error is not None:
        return json.dumps({"error": {"message": reply.error, "type": "server_error", "code": None}}).encode()
    arguments = json.dumps(reply.answer)
    message: dict[str, Any] = {"role": "assistant", "content": None if with_tools else arguments}
    if with_tools:
        call = {
            "id": "call_fake",
            "type": "function",
            "function": {"name": reply.tool, "arguments": arguments},
        }
        message["tool_calls"] = [call]
    completion = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-model",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if with_tools else "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }
    return json.dumps(completion).encode()


class FakeLLMAPI:
    def __init__(self, tools: bool = True) -> None:
        self.tools = tools  # False: a chat-completions server that refuses tools (HTTP 400)
        self.refused = 0  # requests refused for asking for tools
        self.script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.finished: list[float] = []  # when each reply was fully sent
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                chat = self.path.endswith("/chat/completions")
                with fake._lock:
                    fake.requests.append({"path": self.path, "body": payload})
                    if chat and "tools" in payload and not fake.tools:
                        fake.refused += 1
                        reply = Reply(status=400, error="this model does not support tools")
                    else:
                        reply = fake.script.pop(0) if fake.script else fake.default_reply(payload)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                if reply.answer is not None or reply.error is not None:
                    body = _chat(reply, "tools" in payload) if chat else _anthropic(reply)
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body)
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

    def start(self) -> FakeLLMAPI:
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
        """The user message of a request, in either protocol."""
        return str(self.requests[index]["body"]["messages"][-1]["content"])

    def system(self, index: int = -1) -> str:
        """The system prompt: Anthropic's own field, or the chat's first message."""
        body = self.requests[index]["body"]
        return str(body["system"] if "system" in body else body["messages"][0]["content"])
