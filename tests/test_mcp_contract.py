"""The MCP contract, in-process through the SDK's own client: names, schemas, output, errors."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from remembrancer.server import build_server
from remembrancer.service import MemoryService


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def _error_text(result: Any) -> str:
    assert result.is_error
    return " ".join(block.text for block in result.content if getattr(block, "text", None))


@pytest.mark.anyio
async def test_tools_are_listed_with_schemas_and_annotations(service: MemoryService) -> None:
    async with Client(build_server(service)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        instructions = client.instructions
    assert set(tools) == {"remember", "recall", "forget"}
    assert instructions is not None and "recall" in instructions and "remember" in instructions
    recall_schema = tools["recall"].input_schema
    assert recall_schema["required"] == ["query"]
    limit = recall_schema["properties"]["limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 50, 5)
    assert tools["remember"].input_schema["required"] == ["content"]
    assert tools["forget"].input_schema["required"] == ["ids"]
    assert tools["recall"].annotations is not None and tools["recall"].annotations.read_only_hint is True
    assert tools["forget"].annotations is not None and tools["forget"].annotations.destructive_hint is True
    for name in ("remember", "recall", "forget"):
        assert tools[name].output_schema is not None
        assert "start of a task" in (tools["recall"].description or "")


@pytest.mark.anyio
async def test_remember_recall_forget_round_trip(service: MemoryService) -> None:
    async with Client(build_server(service)) as client:
        added = _structured(
            await client.call_tool("remember", {"content": "The user's editor is Helix", "tags": ["tools"]})
        )
        assert added["status"] == "added"
        memory_id = added["memory"]["id"]
        again = _structured(await client.call_tool("remember", {"content": "the user's editor is helix"}))
        assert again["status"] == "duplicate" and again["duplicate_of"] == memory_id

        found = _structured(await client.call_tool("recall", {"query": "which editor does the user use"}))
        assert found["hits"][0]["id"] == memory_id
        assert found["hits"][0]["scope"] == "default"
        assert found["hits"][0]["tags"] == ["tools"]

        forgotten = _structured(await client.call_tool("forget", {"ids": [memory_id]}))
        assert forgotten["forgotten"] == [memory_id]
        after = _structured(await client.call_tool("recall", {"query": "which editor does the user use"}))
        assert all(hit["id"] != memory_id for hit in after["hits"])


@pytest.mark.anyio
async def test_scopes_and_filters_over_mcp(service: MemoryService) -> None:
    async with Client(build_server(service)) as client:
        await client.call_tool("remember", {"content": "Tests run with pytest", "scope": "proj"})
        await client.call_tool("remember", {"content": "I prefer short answers"})
        only_default = _structured(
            await client.call_tool("recall", {"query": "tests pytest answers", "min_score": 0})
        )
        assert {hit["scope"] for hit in only_default["hits"]} == {"default"}
        both = _structured(
            await client.call_tool(
                "recall", {"query": "tests pytest answers", "scope": ["proj", "default"], "min_score": 0}
            )
        )
        assert {hit["scope"] for hit in both["hits"]} == {"proj", "default"}
        future = _structured(
            await client.call_tool("recall", {"query": "pytest", "scope": "proj", "since": "2999-01-01"})
        )
        assert future["hits"] == []


@pytest.mark.anyio
async def test_errors_are_tool_errors_that_say_what_to_fix(service: MemoryService) -> None:
    async with Client(build_server(service)) as client:
        await client.call_tool("remember", {"content": "keep me"})
        unknown = await client.call_tool("forget", {"ids": ["m_nope"]})
        assert "m_nope" in _error_text(unknown)
        empty = await client.call_tool("remember", {"content": "   "})
        assert "content is empty" in _error_text(empty)
        bad_limit = await client.call_tool("recall", {"query": "x", "limit": 500})
        assert "limit" in _error_text(bad_limit)
        bad_scope = await client.call_tool("recall", {"query": "x", "scope": "no such scope!"})
        assert "no such scope!" in _error_text(bad_scope) and "valid scope name" in _error_text(bad_scope)
        empty_scope = await client.call_tool("recall", {"query": "x", "scope": "no-such-scope"})
        assert not empty_scope.is_error
        assert empty_scope.structured_content is not None
        assert empty_scope.structured_content["notes"] == ["scope 'no-such-scope' holds no memories yet"]
        missing = await client.call_tool("recall", {})
        assert "query" in _error_text(missing)
    assert [m.content for m in service.list_memories()] == ["keep me"]
