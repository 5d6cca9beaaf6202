"""End to end over real transports: `remembrancer serve` as a subprocess with the real model.

Each test starts the server the way a user would (stdio, streamable HTTP, SSE) and drives it
with a real MCP client: the Python SDK's, and the MCP Inspector CLI (Node, via npx).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters

from servers import complete, http_server, serve_args, server_env, stdio_session, tool_data, tool_text

pytestmark = pytest.mark.slow

INSPECTOR = "@modelcontextprotocol/inspector@0.15.0"
FACTS = [
    "I prefer tabs over spaces in Python code.",
    "I live in Berlin.",
    "My favourite colour is green.",
]
UNKNOWN_ID = "m_0123456789abcdef"
READ_TIMEOUT = 60.0  # generous: the first call may wait for the model to finish loading


async def _exercise(client: Client) -> None:
    """remember -> recall -> forget -> recall again, and an error the model can read."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert {"remember", "recall", "forget"} <= tools.keys()
    assert tools["recall"].output_schema is not None

    ids: dict[str, str] = {}
    for fact in FACTS:
        added = tool_data(await client.call_tool("remember", {"content": fact, "tags": ["test"]}))
        assert added["status"] == "added", added
        assert added["memory"]["content"] == fact
        assert added["memory"]["tags"] == ["test"]
        ids[fact] = added["memory"]["id"]
    berlin = ids["I live in Berlin."]

    again = tool_data(await client.call_tool("remember", {"content": "I live in Berlin."}))
    assert again["status"] == "duplicate"
    assert again["duplicate_of"] == berlin

    recalled = tool_data(await client.call_tool("recall", {"query": "Where do I live?", "limit": 3}))
    assert recalled["query"] == "Where do I live?"
    assert recalled["hits"], recalled
    assert recalled["hits"][0]["id"] == berlin, recalled["hits"]
    assert recalled["hits"][0]["content"] == "I live in Berlin."

    forgotten = tool_data(await client.call_tool("forget", {"ids": [berlin]}))
    assert forgotten == {"forgotten": [berlin]}

    after = tool_data(await client.call_tool("recall", {"query": "Where do I live?", "limit": 5}))
    assert berlin not in {hit["id"] for hit in after["hits"]}
    assert {hit["id"] for hit in after["hits"]} <= set(ids.values())

    missing = await client.call_tool("forget", {"ids": [UNKNOWN_ID]})
    assert missing.is_error, missing
    assert UNKNOWN_ID in tool_text(missing), tool_text(missing)
    assert "nothing was forgotten" in tool_text(missing)

    # The failed forget is all-or-nothing: a known id passed with it survives.
    green = ids["My favourite colour is green."]
    mixed = await client.call_tool("forget", {"ids": [green, UNKNOWN_ID]})
    assert mixed.is_error
    still = tool_data(await client.call_tool("recall", {"query": "favourite colour", "limit": 1}))
    assert [hit["id"] for hit in still["hits"]] == [green]


# -- stdio ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_stdio_round_trip(tmp_path: Path, store_target: Path | str) -> None:
    db = store_target
    log = tmp_path / "server-stderr.log"
    params = StdioServerParameters(
        command=sys.executable, args=serve_args(db), env=server_env(tmp_path), cwd=tmp_path
    )
    async with stdio_session(params, log, READ_TIMEOUT) as client:
        assert client.server_info is not None
        assert client.server_info.name == "remembrancer"
        await _exercise(client)
    assert isinstance(db, str) or db.exists()


# -- HTTP transports --------------------------------------------------------------------------


@pytest.fixture
def http_port(tmp_path: Path, store_target: Path | str) -> Iterator[int]:
    with http_server(tmp_path, store_target, "http", "--no-auth") as port:
        yield port


@pytest.fixture
def sse_port(tmp_path: Path, store_target: Path | str) -> Iterator[int]:
    with http_server(tmp_path, store_target, "sse", "--no-auth") as port:
        yield port


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
    command = [npx, "-y", INSPECTOR, "--cli", sys.executable, *serve_args(db), *method]
    env = {**os.environ, **server_env(tmp_path), "npm_config_update_notifier": "false"}
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
    structured = complete(result["structuredContent"])
    named = [hit["id"] for hit in structured.get("hits", [])] + structured.get("forgotten", [])
    assert all(memory_id in result["content"][0]["text"] for memory_id in named)
    return structured


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


def test_serving_starts_without_importing_the_heavy_libraries(tmp_path: Path) -> None:
    """What `serve` does before the handshake loads none of the model, LLM or vector libraries:
    they load in the background afterwards, so a client's start-up timeout is never at risk."""
    script = f"""
import sys
from remembrancer.cli import TRANSPORTS
from remembrancer.config import Settings
from remembrancer.embeddings import FastEmbedder
from remembrancer.server import build_server
from remembrancer.service import MemoryService
service = MemoryService.open(Settings(db_path={str(tmp_path / "m.db")!r}), FastEmbedder())
build_server(service)
heavy = {{"onnxruntime", "fastembed", "anthropic", "numpy", "tokenizers"}}
print(sorted(heavy & set(sys.modules)))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
