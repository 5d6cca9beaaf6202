"""Real `remembrancer serve` processes for tests: arguments, environment, an HTTP server on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel

from remembrancer.models import ForgetResult, RecallResult, RememberResult
from remembrancer.short_ids import short_id


def serve_args(db: Path | str, *extra: str) -> list[str]:
    return ["-m", "remembrancer", "serve", "--db", str(db), *extra]


def server_env(tmp_path: Path) -> dict[str, str]:
    # Keep the default data folder out of the user's home, in case anything falls back to it.
    # PYTHONPATH passes on (the stdio client passes only a minimal environment), so a run from
    # another checkout serves that checkout's code.
    inherited = {key: value for key, value in os.environ.items() if key == "PYTHONPATH"}
    return {"XDG_DATA_HOME": str(tmp_path / "xdg-data"), "REMEMBRANCER_LOG_LEVEL": "INFO", **inherited}


def stdio_params(tmp_path: Path, **env: str) -> StdioServerParameters:
    """`python -m remembrancer serve` over stdio on a database in ``tmp_path``."""
    return StdioServerParameters(
        command=sys.executable,
        args=serve_args(tmp_path / "memory.db"),
        env={**server_env(tmp_path), **env},
        cwd=tmp_path,
    )


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed `remembrancer` console script, in a clean environment (plus ``env``)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "remembrancer"), *args],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path, **env),
        cwd=tmp_path,
        timeout=120,
    )


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without our settings or an API key, offline, with the default
    data folder in ``tmp_path`` so nothing falls back to the user's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMEMBRANCER_", "ANTHROPIC_"))}
    return {**env, "HF_HUB_OFFLINE": "1", "XDG_DATA_HOME": str(tmp_path / "xdg-data"), **extra}


@asynccontextmanager
async def stdio_session(
    params: StdioServerParameters, log: Path, read_timeout: float = 60.0
) -> AsyncIterator[Client]:
    """A real MCP client over stdio to the server ``params`` starts; its stderr goes to ``log``
    and is printed after, so a failing test shows what the server said."""
    with log.open("w") as errlog:
        try:
            # Client(params) builds exactly this transport; built here only to capture stderr.
            async with Client(
                stdio_client(params, errlog=errlog), read_timeout_seconds=read_timeout
            ) as client:
                yield client
        finally:
            print(f"--- {params.command} stderr ---\n{log.read_text()}", file=sys.stderr)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
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


def stop(proc: subprocess.Popen[bytes], log: Path, name: str) -> None:
    """Stop a server process, and print what it said (pytest shows it when a test fails)."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    print(f"--- {name} output ---\n{log.read_text()}", file=sys.stderr)


@contextmanager
def http_server(
    tmp_path: Path,
    db: Path | str,
    transport: str,
    *extra: str,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[int]:
    """`remembrancer serve --transport TRANSPORT` on loopback; yields its port, stops it after."""
    port = free_port()
    log = tmp_path / f"server-{transport}-{port}.log"
    args = serve_args(db, "--transport", transport, "--host", "127.0.0.1", "--port", str(port), *extra)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env={**os.environ, **server_env(tmp_path), **(env or {})},
        )
    try:
        wait_for_port(port, proc, log, timeout)
        yield port
        assert proc.poll() is None, f"server died during the test:\n{log.read_text()}"
    finally:
        stop(proc, log, f"{transport} server")


def tool_text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def complete(structured: dict[str, Any]) -> dict[str, Any]:
    """Compact structured content read as a typed client reads it: through its model, so the
    fields left out because they were empty come back with their defaults."""
    model: type[BaseModel] = (
        RecallResult
        if "hits" in structured
        else ForgetResult
        if "forgotten" in structured
        else RememberResult
    )
    return model.model_validate(structured).model_dump(mode="json")


def tool_data(result: CallToolResult) -> dict[str, Any]:
    """The structured answer of a successful call; the text content names every memory in it."""
    assert not result.is_error, f"tool call failed: {tool_text(result)}"
    assert isinstance(result.structured_content, dict), result
    data = complete(result.structured_content)
    named = [hit["id"] for hit in data.get("hits", [])] + data.get("forgotten", [])
    assert all(short_id(memory_id) in tool_text(result) for memory_id in named), tool_text(result)
    return data


@contextmanager
def ui_server(
    tmp_path: Path, db: Path | str, *extra: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """The installed `remembrancer ui --no-browser` on a free port; yields the address it prints."""
    port = free_port()
    log = tmp_path / f"ui-{port}.log"
    script = str(Path(sys.executable).parent / "remembrancer")
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [script, "ui", "--db", str(db), "--port", str(port), "--no-browser", *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=tmp_path,
            env=clean_env(tmp_path, **(env or {})),
        )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().strip()
        assert url.startswith(f"http://127.0.0.1:{port}/ui"), f"printed {url!r}:\n{log.read_text()}"
        wait_for_port(port, proc, log)
        yield url
        assert proc.poll() is None, f"ui died during the test:\n{log.read_text()}"
    finally:
        stop(proc, log, "ui")
