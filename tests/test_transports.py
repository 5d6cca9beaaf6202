"""End to end over real transports: `remembrancer serve` as a subprocess with the real model.

Each test starts the server the way a user would (stdio, streamable HTTP, SSE) and drives it
with a real MCP client: the Python SDK's, and the MCP Inspector CLI (Node, via npx).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import CallToolResult, TextContent

pytestmark = pytest.mark.slow

INSPECTOR = "@modelcontextprotocol/inspector@0.15.0"
FACTS = [
    "I prefer tabs over spaces in Python code.",
    "I live in Berlin.",
    "My favourite colour is green.",
]
UNKNOWN_ID = "m_0123456789abcdef"
READ_TIMEOUT = 60.0  # generous: the first call may wait for the model to finish loading


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _serve_args(db: Path, *extra: str) -> list[str]:
    return ["-m", "remembrancer", "serve", "--db", str(db), *extra]


def _server_env(tmp_path: Path) -> dict[str, str]:
    # Keep the default data folder out of the user's home, in case anything falls back to it.
    return {"XDG_DATA_HOME": str(tmp_path / "xdg-data"), "REMEMBRANCER_LOG_LEVEL": "INFO"}


def _text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def _ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, f"tool call failed: {_text(result)}"
    assert isinstance(result.structured_content, dict), result
    # The text content carries the same JSON, for clients that ignore structured content.
    assert json.loads(_text(result)) == result.structured_content
    return result.structured_content


async def _exercise(client: Client) -> None:
    """remember -> recall -> forget -> recall again, and an error the model can read."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert {"remember", "recall", "forget"} <= tools.keys()
    assert tools["recall"].output_schema is not None

    ids: dict[str, str] = {}
    for fact in FACTS:
        added = _ok(await client.call_tool("remember", {"content": fact, "tags": ["test"]}))
        assert added["status"] == "added", added
        assert added["memory"]["content"] == fact
        assert added["memory"]["tags"] == ["test"]
        ids[fact] = added["memory"]["id"]
    berlin = ids["I live in Berlin."]

    again = _ok(await client.call_tool("remember", {"content": "I live in Berlin."}))
    assert again["status"] == "duplicate"
    assert again["duplicate_of"] == berlin

    recalled = _ok(await client.call_tool("recall", {"query": "Where do I live?", "limit": 3}))
    assert recalled["query"] == "Where do I live?"
    assert recalled["hits"], recalled
    assert recalled["hits"][0]["id"] == berlin, recalled["hits"]
    assert recalled["hits"][0]["content"] == "I live in Berlin."

    forgotten = _ok(await client.call_tool("forget", {"ids": [berlin]}))
    assert forgotten == {"forgotten": [berlin]}

    after = _ok(await client.call_tool("recall", {"query": "Where do I live?", "limit": 5}))
    assert berlin not in {hit["id"] for hit in after["hits"]}
    assert {hit["id"] for hit in after["hits"]} <= set(ids.values())

    missing = await client.call_tool("forget", {"ids": [UNKNOWN_ID]})
    assert missing.is_error, missing
    assert UNKNOWN_ID in _text(missing), _text(missing)
    assert "nothing was forgotten" in _text(missing)

    # The failed forget is all-or-nothing: a known id passed with it survives.
    green = ids["My favourite colour is green."]
    mixed = await client.call_tool("forget", {"ids": [green, UNKNOWN_ID]})
    assert mixed.is_error
    still = _ok(await client.call_tool("recall", {"query": "favourite colour", "limit": 1}))
    assert [hit["id"] for hit in still["hits"]] == [green]


# -- stdio ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_stdio_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    log = tmp_path / "server-stderr.log"
    params = StdioServerParameters(
        command=sys.executable, args=_serve_args(db), env=_server_env(tmp_path), cwd=tmp_path
    )
    with log.open("w") as errlog:
        try:
            # Client(params) builds exactly this transport; built here only to capture stderr.
            async with Client(
                stdio_client(params, errlog=errlog), read_timeout_seconds=READ_TIMEOUT
            ) as client:
                assert client.server_info is not None
                assert client.server_info.name == "remembrancer"
                await _exercise(client)
        finally:
            print(f"--- server stderr ---\n{log.read_text()}", file=sys.stderr)  # shown on failure
    assert db.exists()


# -- HTTP transports --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode} before listening:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"server did not accept connections on port {port} within {timeout} s:\n{log.read_text()}")


def _http_server(tmp_path: Path, transport: str) -> Iterator[int]:
    port = _free_port()
    log = tmp_path / f"server-{transport}.log"
    args = _serve_args(
        tmp_path / "memory.db",
        "--transport",
        transport,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-auth",
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env={**os.environ, **_server_env(tmp_path)},
        )
    try:
        _wait_for_port(port, proc, log)
        yield port
        assert proc.poll() is None, f"server died during the test:\n{log.read_text()}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        print(f"--- server output ---\n{log.read_text()}", file=sys.stderr)  # shown on failure


@pytest.fixture
def http_port(tmp_path: Path) -> Iterator[int]:
    yield from _http_server(tmp_path, "http")


@pytest.fixture
def sse_port(tmp_path: Path) -> Iterator[int]:
    yield from _http_server(tmp_path, "sse")


@pytest.mark.anyio
async def test_streamable_http_round_trip(http_port: int) -> None:
    async with Client(f"http://127.0.0.1:{http_port}/mcp", read_timeout_seconds=READ_TIMEOUT) as client:
        await _exercise(client)


@pytest.mark.anyio
async def test_sse_round_trip(sse_port: int) -> None:
    transport = sse_client(f"http://127.0.0.1:{sse_port}/sse", timeout=30.0)
    async with Client(transport, read_timeout_seconds=READ_TIMEOUT) as client:
        await _exercise(client)


# -- MCP Inspector CLI ------------------------------------------------------------------------


def _inspector(npx: str, db: Path, tmp_path: Path, *method: str) -> Any:
    command = [npx, "-y", INSPECTOR, "--cli", sys.executable, *_serve_args(db), *method]
    env = {**os.environ, **_server_env(tmp_path), "npm_config_update_notifier": "false"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"inspector timed out after 300 s: {command}\nstderr: {exc.stderr!r}")
    context = f"{' '.join(command)}\nexit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 0, context
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"inspector did not print JSON:\n{context}")


def _structured(result: dict[str, Any]) -> dict[str, Any]:
    assert not result.get("isError"), result
    structured = result["structuredContent"]
    assert json.loads(result["content"][0]["text"]) == structured
    return dict(structured)


@pytest.mark.timeout(900)
def test_mcp_inspector_cli(tmp_path: Path) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx is not on PATH: install Node.js 20+ (with npm) to run the MCP Inspector test")
    db = tmp_path / "memory.db"

    listed = _inspector(npx, db, tmp_path, "--method", "tools/list")
    assert {"remember", "recall", "forget"} <= {tool["name"] for tool in listed["tools"]}
    assert db.exists(), "the server did not receive --db through the inspector"

    def call(tool: str, *pairs: str) -> dict[str, Any]:
        args = [item for pair in pairs for item in ("--tool-arg", pair)]
        result: dict[str, Any] = _inspector(
            npx, db, tmp_path, "--method", "tools/call", "--tool-name", tool, *args
        )
        return result

    added = _structured(call("remember", "content=I live in Berlin."))
    assert added["status"] == "added"
    memory_id = added["memory"]["id"]
    _structured(call("remember", "content=My favourite colour is green."))

    recalled = _structured(call("recall", "query=Where do I live?", "limit=2"))
    assert recalled["hits"][0]["id"] == memory_id, recalled
    assert recalled["hits"][0]["content"] == "I live in Berlin."

    assert _structured(call("forget", f"ids={json.dumps([memory_id])}")) == {"forgotten": [memory_id]}
    missing = call("forget", f"ids={json.dumps([memory_id])}")
    assert missing.get("isError") is True, missing
    assert memory_id in missing["content"][0]["text"]
