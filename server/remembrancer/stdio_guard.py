"""Lines of stdin for the MCP server, read so that every request gets an answer.

The SDK parses each line of stdin as one JSON-RPC message. A line holding a lone UTF-16
surrogate escape (``"\\ud800"`` with no low surrogate after it) fails that parse, and since the
request's id is never read, the client gets no reply at all and waits for its own timeout.
Here such an escape becomes U+FDD0, a noncharacter: the message parses, and the tool's input
checks refuse it with a message that says what was wrong (``validation.py``).
"""

from __future__ import annotations

import re

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


def guarded(line: str) -> str:
    """A line of stdin with every lone surrogate, escaped or decoded from bytes that are not
    UTF-8 (read with ``errors="surrogateescape"``), marked."""
    return _RAW_SURROGATE.sub("\ufdd0", mark_lone_surrogates(line))
