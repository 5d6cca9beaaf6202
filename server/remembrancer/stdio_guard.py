"""stdio for the MCP server, where every request gets an answer.

The SDK parses each line of stdin as one JSON-RPC message. A line holding a lone UTF-16
surrogate escape (``"\\ud800"`` with no low surrogate after it) fails that parse, and since the
request's id is never read, the client gets no reply at all and waits for its own timeout.
Here such an escape becomes U+FDD0, a noncharacter: the message parses, and the tool's input
checks refuse it with a message that says what was wrong (``validation.py``).
"""

from __future__ import annotations

import io
import re
import sys
from typing import IO, Any, cast

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

# A backslash escape in JSON text: an escaped backslash, or a \\uXXXX escape (other escapes are
# two characters and cannot hide a "u").
_ESCAPE = re.compile(r"\\\\|\\u([0-9a-fA-F]{4})")
MARK = "\\ufdd0"
_RAW_SURROGATE = re.compile("[\ud800-\udfff]")


def mark_lone_surrogates(line: str) -> str:
    """The line with every lone surrogate escape replaced by the escape of U+FDD0. Escapes are
    read left to right, so an escaped backslash before "u" never starts one."""
    escapes = list(_ESCAPE.finditer(line))
    lone: list[re.Match[str]] = []
    index = 0
    while index < len(escapes):
        match, following = escapes[index], escapes[index + 1] if index + 1 < len(escapes) else None
        code = int(match.group(1), 16) if match.group(1) else None
        if code is not None and 0xD800 <= code <= 0xDBFF:
            paired = (
                following is not None
                and following.start() == match.end()
                and following.group(1) is not None
                and 0xDC00 <= int(following.group(1), 16) <= 0xDFFF
            )
            if paired:
                index += 2
                continue
            lone.append(match)
        elif code is not None and 0xDC00 <= code <= 0xDFFF:
            lone.append(match)
        index += 1
    for match in reversed(lone):
        line = line[: match.start()] + MARK + line[match.end() :]
    return line


class _GuardedLines:
    """UTF-8 lines of a binary stream, with lone surrogates (escaped or from bad bytes) marked."""

    def __init__(self, binary: Any) -> None:
        # Bytes that are not UTF-8 arrive as lone surrogates, and are marked like the escapes.
        self._text = io.TextIOWrapper(binary, encoding="utf-8", errors="surrogateescape")

    def readline(self, size: int | None = -1) -> str:
        line = self._text.readline(-1 if size is None else size)
        return _RAW_SURROGATE.sub("\ufdd0", mark_lone_surrogates(line))


async def _serve(server: MCPServer) -> None:
    # anyio's AsyncFile only calls readline() when iterated, which is all the SDK does with it.
    stdin = anyio.wrap_file(cast(IO[str], _GuardedLines(sys.stdin.buffer)))
    async with stdio_server(stdin=stdin) as (read_stream, write_stream):
        lowlevel = server._lowlevel_server  # the SDK's own run_stdio_async does exactly this
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


def serve_stdio(server: MCPServer) -> None:
    anyio.run(_serve, server)
