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

# A high surrogate escape not followed by a low one, or a low one not preceded by a high one
# (an escaped backslash before the "u" is left alone).
_LONE_SURROGATE = re.compile(
    r"(?<!\\)((?:\\\\)*)\\u(?:d[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})|(?<!\\ud[89ab][0-9a-f]{2}\\u)d[c-f][0-9a-f]{2})",
    re.IGNORECASE,
)
MARK = "\\ufdd0"
_RAW_SURROGATE = re.compile("[\ud800-\udfff]")


def mark_lone_surrogates(line: str) -> str:
    """The line with every lone surrogate escape replaced by the escape of U+FDD0."""
    return _LONE_SURROGATE.sub(lambda match: match.group(1) + MARK, line)


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
