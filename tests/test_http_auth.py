"""HTTP access control with a real server process and a real MCP client: tokens, scopes, refusals."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from remembrancer.cli import main
from remembrancer.config import Settings
from remembrancer.service import MemoryService
from remembrancer.storage import open_store
from servers import free_port

pytestmark = pytest.mark.slow
ALICE = "alice-token-" + "a" * 24
BOB = "bob-token-" + "b" * 24
ADMIN = "admin-token-" + "c" * 24


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    path.write_text(f"# name token scopes\nalice {ALICE} alice,team\nbob {BOB} bob\nadmin {ADMIN}\n")
    path.chmod(0o600)
    return path


@pytest.fixture(params=["http", "sse"])
def server(
    request: pytest.FixtureRequest, tmp_path: Path, tokens_file: Path, store_target: Path | str
) -> Iterator[tuple[str, Path | str]]:
    """A server with per-person tokens, over each HTTP transport, on each engine."""
    port, db = free_port(), store_target
    env = {
        **os.environ,
        "REMEMBRANCER_AUTH_TOKENS_FILE": str(tokens_file),
        "REMEMBRANCER_LOG_LEVEL": "WARNING",
    }
    args = ["serve", "--transport", request.param, "--port", str(port), "--db", str(db)]
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "remembrancer", *args], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.1)
        path = "/mcp" if request.param == "http" else "/sse"
        yield f"http://127.0.0.1:{port}{path}", db
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _client(url: str, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if url.endswith("/sse"):
        return Client(sse_client(url, headers=headers))
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=30)))


def _memories(db: Path | str) -> list[tuple[str, str, str]]:
    from remembrancer.embeddings import FastEmbedder

    service = MemoryService.open(Settings(db_path=db), FastEmbedder())
    try:
        return sorted((m.id, m.scope, m.content) for m in service.list_memories(["alice", "bob"], limit=100))
    finally:
        service.close()


async def _call(url: str, token: str, tool: str, arguments: dict[str, Any]) -> Any:
    async with _client(url, token) as client:
        return await client.call_tool(tool, arguments)


def _text(result: Any) -> str:
    return " ".join(block.text for block in result.content if getattr(block, "text", None))


@pytest.mark.anyio
async def test_access_control_end_to_end(server: tuple[str, Path | str]) -> None:
    url, db = server
    alice = await _call(url, ALICE, "remember", {"content": "Alice's locker code is 4711"})
    bob = await _call(url, BOB, "remember", {"content": "Bob is allergic to peanuts"})
    assert alice.structured_content["memory"]["scope"] == "alice"  # a token's first scope is its default
    assert bob.structured_content["memory"]["scope"] == "bob"
    bob_id = bob.structured_content["memory"]["id"]
    before = _memories(db)

    # No token and a wrong token: refused at the door, before any MCP message is read.
    for token in (None, "wrong-token-" + "x" * 24):
        with pytest.raises(Exception, match=r"unhandled errors|error response|401 Unauthorized"):
            await _call(url, token or "", "recall", {"query": "peanuts", "scope": "bob"})
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx2.AsyncClient(timeout=10) as http:
            answer = await http.post(url, headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
        assert "peanuts" not in answer.text

    # Alice's token on Bob's scope: refused, and the answer is the same for an empty scope.
    other = await _call(url, ALICE, "recall", {"query": "peanuts", "scope": "bob"})
    empty = await _call(url, ALICE, "recall", {"query": "peanuts", "scope": "nobody-here"})
    assert other.is_error and empty.is_error
    assert "may not use scope 'bob'" in _text(other) and "peanuts" not in _text(other)
    assert _text(empty) == _text(other).replace("'bob'", "'nobody-here'")
    forget = await _call(url, ALICE, "forget", {"ids": [bob_id]})
    unknown = await _call(url, ALICE, "forget", {"ids": ["m_0000000000000000"]})
    assert forget.is_error and _text(forget).replace(bob_id, "X") == _text(unknown).replace(
        "m_0000000000000000", "X"
    )
    # Bob's id in the short form recall shows: as unknown to Alice, and never made whole for her.
    short = await _call(url, ALICE, "forget", {"ids": [bob_id[:10]]})
    assert short.is_error and bob_id not in _text(short)
    assert _text(short).replace(bob_id[:10], "X") == _text(unknown).replace("m_0000000000000000", "X")
    write = await _call(url, ALICE, "remember", {"content": "planted", "scope": "bob"})
    assert write.is_error
    default_recall = await _call(url, ALICE, "recall", {"query": "peanuts allergy"})
    assert all(hit["scope"] == "alice" for hit in default_recall.structured_content["hits"])
    assert _memories(db) == before

    # Valid tokens: Bob sees his memory; the unrestricted token can read both scopes.
    mine = await _call(url, BOB, "recall", {"query": "peanuts"})
    assert mine.structured_content["hits"][0]["id"] == bob_id
    both = await _call(url, ADMIN, "recall", {"query": "code peanuts", "scope": ["alice", "bob"]})
    assert {hit["scope"] for hit in both.structured_content["hits"]} == {"alice", "bob"}


@pytest.mark.anyio
async def test_dns_rebinding_is_refused_even_with_a_token(server: tuple[str, Path | str]) -> None:
    url, _ = server
    headers = {
        "Authorization": f"Bearer {ADMIN}",
        "Host": "evil.example.com",
        "content-type": "application/json",
    }
    async with httpx2.AsyncClient(timeout=10) as http:
        if url.endswith("/sse"):
            async with http.stream("GET", url, headers=headers) as answer:
                status = answer.status_code
        else:
            status = (await http.post(url, headers=headers, content=b"{}")).status_code
    assert status == 421


def test_exposure_is_refused_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "m.db")
    assert main(["serve", "--transport", "http", "--host", "0.0.0.0", "--no-auth", "--db", db]) == 2
    assert "REMEMBRANCER_AUTH_TOKEN" in capsys.readouterr().err
    assert main(["serve", "--transport", "http", "--db", db]) == 2
    assert "--no-auth" in capsys.readouterr().err
    assert not Path(db).exists()  # refused before the store was touched


def test_a_tokens_file_others_can_read_is_refused(
    tokens_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens_file.chmod(0o644)
    monkeypatch.setenv("REMEMBRANCER_AUTH_TOKENS_FILE", str(tokens_file))
    assert main(["serve", "--transport", "http", "--db", str(tmp_path / "m.db")]) == 2
    err = capsys.readouterr().err
    assert f"chmod 600 {tokens_file}" in err and ALICE not in err


@pytest.mark.anyio
async def test_an_oversized_request_body_is_refused(server: tuple[str, Path | str]) -> None:
    url, db = server
    if url.endswith("/sse"):
        url = url.replace("/sse", "/messages/?session_id=0" + "0" * 31)
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "pad": "' + b"x" * 2_000_000 + b'"}'
    headers = {"Authorization": f"Bearer {ADMIN}", "content-type": "application/json"}
    async with httpx2.AsyncClient(timeout=30) as http:
        answer = await http.post(url, headers=headers, content=body)
    assert answer.status_code == 413
    store = open_store(db)
    try:
        assert store.counts()["memories"] == 0
    finally:
        store.close()
