"""The TypeScript MCP SDK's client (the one the Inspector and Claude Code are built on) reads our
compact structured results: it validates each against the tool's outputSchema and would throw.

The SDK comes from npm (pinned) into the pytest cache, as the .mcpb test gets the mcpb CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from servers import clean_env

TS_SDK_VERSION = "1.32.2"
SCRIPT = Path(sys.executable).parent / "remembrancer"
CLIENT = Path(__file__).with_name("ts_client.mjs")


@pytest.fixture(scope="session")
def ts_sdk(request: pytest.FixtureRequest) -> Path:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.fail("node and npm are not on PATH: install Node.js 20+ for the TypeScript client check")
    home = Path(request.config.cache.mkdir(f"ts-sdk-{TS_SDK_VERSION}"))
    if not (home / "node_modules" / "@modelcontextprotocol" / "sdk").exists():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", f"@modelcontextprotocol/sdk@{TS_SDK_VERSION}"],
            cwd=home,
            check=True,
            capture_output=True,
            timeout=300,
        )
    shutil.copy(CLIENT, home / CLIENT.name)
    return home


@pytest.mark.slow
def test_the_typescript_sdk_client_validates_and_reads_every_tool_result(
    ts_sdk: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        ["node", str(ts_sdk / CLIENT.name), str(SCRIPT), "serve", "--db", str(tmp_path / "memory.db")],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        cwd=ts_sdk,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tools"] == ["remember", "recall", "forget"]
    remember, found, absent, forget = report["results"]
    assert not any(result["isError"] for result in report["results"])
    memory = remember["structuredContent"]["memory"]
    assert memory["occurred_at"] == "2024-03-01T00:00:00Z" or memory["occurred_at"].startswith("2024-0")
    assert [hit["id"] for hit in found["structuredContent"]["hits"]] == [memory["id"]]
    assert found["text"].startswith(f"{memory['id'][:10]} 2024-0")
    assert absent["structuredContent"]["hits"] == [] and absent["text"].startswith("no memories found")
    assert forget["structuredContent"] == {"forgotten": [memory["id"]]}
