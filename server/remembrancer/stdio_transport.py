"""The MCP server over stdio: every request read gets its answer, and nothing but the protocol
reaches stdout.

- When stdin and stdout are pipes or sockets (as every MCP client starts a server), both are read
  and written on the event loop. The SDK's own transport hands each line read, each write and
  each flush to a worker thread: three hand-offs a request on top of the tool's own. Otherwise
  (stdin a file or a terminal) a worker thread reads and writes, as the SDK does.
- At the end of stdin, requests still in progress are answered before the server stops, so a
  file of requests piped in gets every answer (the SDK stops at once).
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
from typing import Any, cast

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

from remembrancer.stdio_guard import guarded

#: The longest request line read from a pipe, far above any valid request (content is capped by
#: REMEMBRANCER_MAX_CONTENT_BYTES). A longer one is answered with an error and dropped.
MAX_LINE_BYTES = 16 * 1024 * 1024
_REQUEST_ID = re.compile(rb'"id"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)')
log = logging.getLogger("remembrancer")
#: How long requests still in progress at the end of stdin may take to be answered.
FINISHING_SECONDS = 120.0


class _Unanswered:
    """The ids of the requests read and not yet answered."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._none_left = asyncio.Event()
        self._none_left.set()

    @staticmethod
    def _message(text: str) -> dict[str, Any]:
        try:
            message = json.loads(text)
        except ValueError:  # the SDK answers what it cannot parse
            return {}
        return message if isinstance(message, dict) else {}

    def read(self, line: str) -> None:
        message = self._message(line)
        if "id" in message and "method" in message:
            self._ids.add(json.dumps(message["id"]))
            self._none_left.clear()
        elif message.get("method") == "notifications/cancelled":  # a cancelled request gets no answer
            params = message.get("params")
            self._answered(params.get("requestId") if isinstance(params, dict) else None)

    def written(self, text: str) -> None:
        message = self._message(text)
        if "id" in message and ("result" in message or "error" in message):
            self._answered(message["id"])

    def _answered(self, request_id: Any) -> None:
        self._ids.discard(json.dumps(request_id))
        if not self._ids:
            self._none_left.set()

    async def all_answered(self) -> None:
        with anyio.move_on_after(FINISHING_SECONDS):
            await self._none_left.wait()


class _Lines:
    """stdin's lines, as the SDK iterates them."""

    def __init__(self, read_line: Callable[[], Awaitable[bytes]], unanswered: _Unanswered | None) -> None:
        self._read_line = read_line
        self._unanswered = unanswered

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        raw = await self._read_line()
        if not raw:
            if self._unanswered is not None:
                await self._unanswered.all_answered()
            raise StopAsyncIteration
        line = guarded(raw.decode("utf-8", errors="surrogateescape"))
        if self._unanswered is not None:
            self._unanswered.read(line)
        return line


class _Output:
    """stdout, as the SDK writes to it: a message, then a flush."""

    def __init__(self, write: Callable[[bytes], Awaitable[None]], unanswered: _Unanswered) -> None:
        self._write = write
        self._unanswered = unanswered
        self._pending: list[str] = []
        self._reader_gone = False

    async def write(self, text: str) -> None:
        self._pending.append(text)

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
        self._unanswered.written(text)


def _is_pipe(fd: int) -> bool:
    # Not a terminal: the event loop makes its descriptor non-blocking, a setting a terminal
    # shares with the shell that started us.
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@contextmanager
def _wire() -> Iterator[tuple[int, int]]:
    """The protocol's own copies of stdin and stdout, with fd 0 and 1 turned away meanwhile."""
    wire_in, wire_out = os.dup(0), os.dup(1)
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
        os.close(wire_in)
        os.close(wire_out)


Streams = tuple[_Lines, _Output, Callable[[], None]]


async def _on_the_loop(wire_in: int, wire_out: int, unanswered: _Unanswered) -> Streams:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
    reading = os.fdopen(os.dup(wire_in), "rb", buffering=0)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), reading)
    writing = os.fdopen(os.dup(wire_out), "wb", buffering=0)
    transport, protocol = await loop.connect_write_pipe(
        lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), writing
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)

    async def write(data: bytes) -> None:
        writer.write(data)  # a whole message at once, so one never splits another
        await writer.drain()

    async def read_line() -> bytes:
        while True:
            try:
                return await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as end:
                return end.partial
            except asyncio.LimitOverrunError as too_long:
                head = await reader.readexactly(too_long.consumed)
                await write(_too_long(head))
                await _skip_line(reader)

    return _Lines(read_line, unanswered), _Output(write, unanswered), writer.close


def _too_long(head: bytes) -> bytes:
    """The error answering a request line over MAX_LINE_BYTES, with the id it starts with."""
    found = _REQUEST_ID.search(head[:4096])
    try:
        request_id = json.loads(found.group(1)) if found else None
    except ValueError:  # a broken escape in the id
        request_id = None
    message = (
        f"request refused: a message may be at most {MAX_LINE_BYTES // 2**20} MiB on one line;"
        " store a shorter text, or split it into several memories."
    )
    error = {"code": -32600, "message": message}
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}).encode() + b"\n"


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

    def close() -> None:
        reading.close()
        writing.close()

    return _Lines(read_line, unanswered), _Output(write, unanswered or _Unanswered()), close


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
            close()
        return
    make = _on_the_loop if _is_pipe(0) and _is_pipe(1) else _in_a_thread
    with _wire() as (wire_in, wire_out):
        stdin, stdout, close = await make(wire_in, wire_out, unanswered)
        try:
            await _run(server, stdin, stdout)
        finally:
            close()


def serve_stdio(server: MCPServer) -> None:
    anyio.run(_serve, server)
