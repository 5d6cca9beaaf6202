"""The MCP server over stdio: every request read gets its answer, and nothing but the protocol
reaches stdout.

- When stdin and stdout are pipes or sockets (as every MCP client starts a server), both are read
  and written on the event loop. The SDK's own transport hands each line read, each write and
  each flush to a worker thread: three hand-offs a request on top of the tool's own. Otherwise
  (stdin a file or a terminal) a worker thread reads and writes, as the SDK does.
- At the end of stdin, requests still in progress are answered before the server stops, so a
  file of requests piped in gets every answer (the SDK stops at once).
- A line that is no JSON-RPC message gets an error answer (the SDK passes over it in silence).
- The protocol gets private copies of both descriptors. Meanwhile fd 0 reads the null device
  and fd 1 writes to stderr, so a library's stray print cannot break a message.

On Windows stdin is read by a thread and stdout is left to the SDK, which also rebinds Windows'
standard handles; the end of stdin stops the server there, as the SDK does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import cast

import anyio
import mcp_types as types
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.dispatcher import coerce_request_id
from mcp_types import RequestId

from remembrancer.stdio_guard import guarded

#: The longest request line read from a pipe, far above any valid request (content is capped by
#: REMEMBRANCER_MAX_CONTENT_BYTES). A longer one is answered with an error and dropped.
MAX_LINE_BYTES = 16 * 1024 * 1024
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]]')
_ID_VALUE = re.compile(rb'\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)')
log = logging.getLogger("remembrancer")
#: How long requests still in progress at the end of stdin may take to be answered.
FINISHING_SECONDS = 120.0


class _Unanswered:
    """The requests read and not yet answered, as the SDK reads them: what it takes for a
    notification or cannot read gets no answer, so nothing waits for one."""

    def __init__(self) -> None:
        self._ids: set[RequestId] = set()
        self._none_left = asyncio.Event()
        self._none_left.set()

    def read(self, message: types.JSONRPCMessage) -> None:
        if isinstance(message, types.JSONRPCRequest):
            self._ids.add(coerce_request_id(message.id))
            self._none_left.clear()
        elif isinstance(message, types.JSONRPCNotification) and message.method == "notifications/cancelled":
            cancelled = (message.params or {}).get("requestId")  # a cancelled request gets no answer
            if isinstance(cancelled, (int, str)):
                self._answered(cancelled)

    def written(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        answer = isinstance(message, dict) and ("result" in message or "error" in message)
        if answer and isinstance(message.get("id"), (int, str)):
            self._answered(message["id"])

    def _answered(self, request_id: RequestId) -> None:
        self._ids.discard(coerce_request_id(request_id))
        if not self._ids:
            self._none_left.set()

    async def all_answered(self) -> None:
        with anyio.move_on_after(FINISHING_SECONDS):
            await self._none_left.wait()


class _Lines:
    """stdin's lines, as the SDK iterates them. A line that is no JSON-RPC message, which the
    SDK passes over in silence, is answered here with an error (given an output to answer on)."""

    def __init__(
        self,
        read_line: Callable[[], Awaitable[bytes]],
        unanswered: _Unanswered | None,
        output: _Output | None = None,
    ) -> None:
        self._read_line = read_line
        self._unanswered = unanswered
        self._output = output

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        while True:
            raw = await self._read_line()
            if not raw:
                if self._unanswered is not None:
                    await self._unanswered.all_answered()
                raise StopAsyncIteration
            line = guarded(raw.decode("utf-8", errors="surrogateescape"))
            if self._output is None or not line.strip():
                return line
            try:
                message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
            except ValueError:
                await self._output.send(_refusal(line))
                continue
            if isinstance(message, types.JSONRPCNotification) and _has_an_id(line):
                await self._output.send(_refusal(line))  # an id no request can have: [1], 1.5, true
                continue
            if self._unanswered is not None:
                self._unanswered.read(message)
            return line


def _has_an_id(line: str) -> bool:
    parsed = json.loads(line)
    return isinstance(parsed, dict) and "id" in parsed


def _refusal(line: str) -> str:
    """The error answering a line that is no JSON-RPC message, under its id when it has one."""
    try:
        parsed = json.loads(line)
    except ValueError:
        code, text, request_id = -32700, "parse error: the line is not JSON", None
    else:
        code, request_id = -32600, parsed.get("id") if isinstance(parsed, dict) else None
        if not isinstance(request_id, (int, str)) or isinstance(request_id, bool):  # true is no id
            request_id = None
        text = "invalid request: " + (
            "batches are not supported"
            if isinstance(parsed, list)
            else 'not a JSON-RPC 2.0 message (jsonrpc "2.0", a method, a string or number id, object params)'
        )
    message = f"{text}; send one JSON-RPC 2.0 message, as JSON, per line."
    return (
        json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}) + "\n"
    )


class _Output:
    """stdout, as the SDK writes to it: a message, then a flush."""

    def __init__(self, write: Callable[[bytes], Awaitable[None]], unanswered: _Unanswered | None) -> None:
        self._write = write
        self._unanswered = unanswered
        self._pending: list[str] = []
        self._reader_gone = False

    async def write(self, text: str) -> None:
        self._pending.append(text)

    async def send(self, text: str) -> None:
        """A message of our own, between two of the SDK's (which never yield mid-message)."""
        await self.write(text)
        await self.flush()

    async def flush(self) -> None:
        text, self._pending = "".join(self._pending), []
        if not self._reader_gone:
            try:
                await self._write(text.encode("utf-8"))
            except (BrokenPipeError, ConnectionResetError):
                # The client closed its end: the work still finishes (a remember is stored),
                # but its answers have nowhere to go.
                log.info("the client stopped reading; answers from now on are dropped")
                self._reader_gone = True
        if self._unanswered is not None:
            self._unanswered.written(text)


def _separate_pipes() -> bool:
    """Whether stdin and stdout are two pipes or sockets. Not a terminal or a file: the event
    loop cannot watch a file, and a terminal is shared with the shell that started us. Not one
    socket for both: the loop's writer takes anything arriving on its descriptor for a hang-up."""
    given, taken = os.fstat(0), os.fstat(1)
    if (given.st_dev, given.st_ino) == (taken.st_dev, taken.st_ino):
        return False
    return all(stat.S_ISFIFO(end.st_mode) or stat.S_ISSOCK(end.st_mode) for end in (given, taken))


@contextmanager
def _wire() -> Iterator[tuple[int, int]]:
    """The protocol's own copies of stdin and stdout, with fd 0 and 1 turned away meanwhile."""
    wire_in, wire_out = os.dup(0), os.dup(1)
    # The loop makes the pipes non-blocking, for every process sharing them: put that back after.
    blocking = os.get_blocking(0), os.get_blocking(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    try:
        yield wire_in, wire_out
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()  # a stray print still buffered goes to stderr too
        os.dup2(wire_in, 0)
        os.dup2(wire_out, 1)
        os.set_blocking(0, blocking[0])
        os.set_blocking(1, blocking[1])
        os.close(wire_in)
        os.close(wire_out)


Streams = tuple[_Lines, _Output | None, Callable[[], Awaitable[None]]]


async def _on_the_loop(wire_in: int, wire_out: int, unanswered: _Unanswered) -> Streams:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
    reading = os.fdopen(os.dup(wire_in), "rb", buffering=0)
    incoming, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), reading)
    writing = os.fdopen(os.dup(wire_out), "wb", buffering=0)
    outgoing, protocol = await loop.connect_write_pipe(
        lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), writing
    )
    outgoing.set_write_buffer_limits(high=0)  # an answer counts as sent once the pipe has it
    writer = asyncio.StreamWriter(outgoing, protocol, None, loop)

    async def write(data: bytes) -> None:
        writer.write(data)  # a whole message at once, so one never splits another
        await writer.drain()

    output = _Output(write, unanswered)

    async def read_line() -> bytes:
        while True:
            try:
                return await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as end:
                return end.partial
            except asyncio.LimitOverrunError as too_long:
                head = await reader.readexactly(too_long.consumed)
                await _skip_line(reader)
                await output.send(_too_long(head))

    async def close() -> None:
        incoming.close()
        writer.close()
        with anyio.move_on_after(FINISHING_SECONDS):
            await writer.wait_closed()  # what the pipe has not taken yet still goes out

    return _Lines(read_line, unanswered, output), output, close


def _top_level_id(head: bytes) -> RequestId | None:
    """The id of a JSON-RPC message from the start of its text, if it comes before the cut (a
    key "id" of an object inside it, such as the arguments, is not it)."""
    depth = 0
    for token in _JSON_TOKEN.finditer(head):
        text = token.group()
        if text in (b"{", b"["):
            depth += 1
        elif text in (b"}", b"]"):
            depth -= 1
        elif depth == 1 and text == b'"id"':
            value = _ID_VALUE.match(head, token.end())
            if value is not None:
                with contextlib.suppress(ValueError):  # a broken escape in the id
                    found = json.loads(value.group(1))
                    return found if isinstance(found, (int, str)) else None
    return None


def _too_long(head: bytes) -> str:
    """The error answering a request line over MAX_LINE_BYTES, under its id when its start says it."""
    message = (
        f"request refused: a message may be at most {MAX_LINE_BYTES // 2**20} MiB on one line;"
        " store a shorter text, or split it into several memories."
    )
    error = {"code": -32600, "message": message}
    return json.dumps({"jsonrpc": "2.0", "id": _top_level_id(head[:65536]), "error": error}) + "\n"


async def _skip_line(reader: asyncio.StreamReader) -> None:
    """Read past the rest of a line too long to keep."""
    while True:
        try:
            await reader.readuntil(b"\n")
            return
        except asyncio.IncompleteReadError:
            return
        except asyncio.LimitOverrunError as more:
            await reader.readexactly(more.consumed)


async def _in_a_thread(wire_in: int, wire_out: int, unanswered: _Unanswered | None) -> Streams:
    reading = os.fdopen(os.dup(wire_in), "rb")
    writing = os.fdopen(os.dup(wire_out), "wb")

    async def read_line() -> bytes:
        return await anyio.to_thread.run_sync(reading.readline)

    def write_all(data: bytes) -> None:
        writing.write(data)
        writing.flush()

    async def write(data: bytes) -> None:
        await anyio.to_thread.run_sync(write_all, data)

    async def close() -> None:
        reading.close()
        writing.close()

    output = _Output(write, unanswered) if unanswered is not None else None
    return _Lines(read_line, unanswered, output), output, close


async def _run(server: MCPServer, stdin: _Lines, stdout: _Output | None) -> None:
    async with stdio_server(
        stdin=cast(anyio.AsyncFile[str], stdin), stdout=cast(anyio.AsyncFile[str] | None, stdout)
    ) as (read_stream, write_stream):
        lowlevel = server._lowlevel_server  # the SDK's own run_stdio_async does exactly this
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


async def _serve(server: MCPServer) -> None:
    unanswered = _Unanswered()
    if sys.platform == "win32":  # stdout as the SDK serves it: it also rebinds Windows' handles
        stdin, _, close = await _in_a_thread(0, 1, None)
        try:
            await _run(server, stdin, None)
        finally:
            await close()
        return
    make = _on_the_loop if _separate_pipes() else _in_a_thread
    with _wire() as (wire_in, wire_out):
        stdin, stdout, close = await make(wire_in, wire_out, unanswered)
        try:
            await _run(server, stdin, stdout)
        finally:
            await close()


def serve_stdio(server: MCPServer) -> None:
    anyio.run(_serve, server)
