"""The MCP server: three tools, each a thin adapter over MemoryService."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from mcp_types import Tool as MCPTool
from pydantic import BaseModel, Field, ValidationError

from remembrancer import package_version
from remembrancer.auth import Access, Token
from remembrancer.errors import RemembrancerError
from remembrancer.models import ForgetResult, RecallResult, RememberResult
from remembrancer.service import MemoryService
from remembrancer.tool_text import compact, forget_text, recall_text, remember_text

log = logging.getLogger(__name__)
T = TypeVar("T")

INSTRUCTIONS = """\
Remembrancer is your long-term memory across conversations. Use it without being asked:
- At the start of a task, and whenever the user refers to something from before ("as I said",
  "my usual setup", "that project"), call `recall` with a short description of what you need.
- When you learn something durable - a fact about the user, a preference, a decision, a
  project convention, a correction - call `remember` with one self-contained sentence
  ("The user prefers tabs over spaces in Python", not "they like tabs"). Don't store
  small talk, secrets or things only true for this conversation.
- When a fact changes, just `remember` the new one. With an LLM judge configured, the server
  supersedes the old memory; without one, it keeps both and recall puts the newer first.
  Either way a recall hit says what changed (`replaces`, `replaced_by`): trust the newest.
- When the user asks you to forget something, or a stored memory is wrong, call `forget`
  with its id (from `recall`), then `remember` the corrected fact if there is one.
Use `scope` to keep a project's memories apart (e.g. the repository name); recall can search
a project's scope and the default one together.
"""


def _adapt(call: Callable[[], T]) -> T:
    """Turn anticipated failures into tool errors the model can read and act on."""
    try:
        return call()
    except RemembrancerError as exc:
        raise ToolError(str(exc)) from None


class _Server(MCPServer):
    """The SDK's server, with arguments of the wrong shape answered in one short line each."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            # Only the caller's arguments: a validation error inside a tool is a crash, and stays one.
            if not isinstance(exc, UnexpectedToolError) and isinstance(exc.__cause__, ValidationError):
                problems = "; ".join(_argument_problem(error) for error in exc.__cause__.errors())
                raise ToolError(f"{name}: {problems}.") from exc.__cause__
            raise

    async def list_tools(self) -> list[MCPTool]:
        """The tools with lean schemas (no generated titles) and descriptions without source
        indentation: every byte of tools/list sits in the assistant's context."""
        return [
            tool.model_copy(
                update={
                    "description": _plain(tool.description or ""),
                    "input_schema": _lean(tool.input_schema),
                    # The text content explains each result; the output schema is for validation.
                    "output_schema": None
                    if tool.output_schema is None
                    else _lean(tool.output_schema, descriptions=False),
                }
            )
            for tool in await super().list_tools()
        ]


def _plain(docstring: str) -> str:
    """A docstring's paragraphs, each on one line."""
    paragraphs = inspect.cleandoc(docstring).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


def _lean(schema: Any, *, descriptions: bool = True) -> Any:
    """The JSON schema without the titles pydantic derives from field names (and, if asked,
    without descriptions)."""
    if isinstance(schema, list):
        return [_lean(item, descriptions=descriptions) for item in schema]
    if not isinstance(schema, dict):
        return schema
    lean: dict[str, Any] = {}
    for key, value in schema.items():
        if (key == "title" and isinstance(value, str)) or (key == "description" and not descriptions):
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            lean[key] = {name: _lean(sub, descriptions=descriptions) for name, sub in value.items()}
        else:
            lean[key] = _lean(value, descriptions=descriptions)
    return lean


_EXPECTED = {
    "list_type": 'must be a list, e.g. ["a", "b"]',
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": 'must be a JSON object, e.g. {"source": "chat"}',
    "missing": "is required",
    "datetime_type": "must be an ISO 8601 time, e.g. 2026-12-01 or 2026-12-01T09:30:00+01:00",
    "datetime_parsing": "must be an ISO 8601 time, e.g. 2026-12-01 or 2026-12-01T09:30:00+01:00",
    "datetime_from_date_parsing": "must be an ISO 8601 time, e.g. 2026-12-01 or 2026-12-01T09:30:00+01:00",
    "too_short": "must not be empty",
}


def _argument_problem(error: Any) -> str:
    """One rejected argument as a short phrase: what it must be, and what came instead."""
    field = ".".join(str(part) for part in error["loc"]) or "arguments"
    bounds = error.get("ctx") or {}
    if error["type"] in ("greater_than_equal", "less_than_equal"):
        side, bound = ("at least", bounds.get("ge")) if "ge" in bounds else ("at most", bounds.get("le"))
        expected = f"must be {side} {bound}"
    else:
        expected = _EXPECTED.get(error["type"], str(error["msg"]).lower())
    got = error.get("input")
    shown = "" if error["type"] == "missing" else f" (got {type(got).__name__} {str(got)[:40]!r})"
    return f"{field} {expected}{shown}"


def build_server(service: MemoryService, actor: str = "mcp", tokens: Sequence[Token] = ()) -> MCPServer:
    """The MCP server; with ``tokens`` (HTTP), each call may use only its token's scopes."""
    mcp: MCPServer = _Server(name="remembrancer", instructions=INSTRUCTIONS, version=package_version())
    default_scope = service.settings.default_scope

    def access(ctx: Context) -> Access:
        return Access.for_headers(tokens, ctx.headers)

    @mcp.tool(
        title="Remember a fact",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True),
    )
    def remember(
        ctx: Context,
        content: Annotated[
            str,
            Field(description="One durable fact, preference, decision or convention, as a full sentence."),
        ],
        tags: Annotated[list[str], Field(description="Optional short labels, e.g. ['preference'].")] = [],  # noqa: B006
        metadata: Annotated[
            dict[str, Any],
            Field(description="Optional JSON object about the source, e.g. {'source': 'chat'}."),
        ] = {},  # noqa: B006
        scope: Annotated[
            str | None,
            Field(description="Where to store it, e.g. a project's name; omit for the default scope."),
        ] = None,
        occurred_at: Annotated[
            str | None,
            Field(description="When it happened, if not now: ISO 8601 (e.g. 2023-05-08) or 'yesterday'."),
        ] = None,
    ) -> Annotated[CallToolResult, RememberResult]:
        """Store a durable fact, preference, decision or project convention in long-term memory.

        Call it when the user tells you something worth knowing next time. The server keeps
        the store true: a reworded repeat is a 'duplicate' (nothing new stored); a fact with a
        new value (a number, name, date, negation...) is stored, and the old one is either
        superseded (LLM judge) or kept with this one ranked first ('replaces' names it, the
        reason says what changed); a different fact that looks alike is 'added'. Without an
        LLM the local judge decides; with one, a passage may be split into facts.
        """
        result = _adapt(
            lambda: service.remember(
                content,
                tags,
                metadata,
                _one(access(ctx).check(scope, default_scope)),
                actor=actor,
                occurred_at=occurred_at,
            )
        )
        return _result(result, remember_text(result))

    @mcp.tool(
        title="Recall memories",
        annotations=ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True),
    )
    def recall(
        ctx: Context,
        query: Annotated[str, Field(description="What you need to know, in a few words or a question.")],
        limit: Annotated[int, Field(ge=1, le=50, description="How many memories to return (1-50).")] = 5,
        tags: Annotated[
            list[str] | None, Field(description="Only memories carrying all of these tags.")
        ] = None,
        since: Annotated[
            str | None,
            Field(
                description="Only memories from this time on: ISO 8601, or '7d', 'yesterday', 'last week'."
            ),
        ] = None,
        until: Annotated[
            str | None, Field(description="Only memories up to this time (a date or period alone: its end).")
        ] = None,
        scope: Annotated[
            str | list[str] | None,
            Field(description="A scope or list of scopes to search; omit for the default scope."),
        ] = None,
        include_superseded: Annotated[
            bool, Field(description="Also return memories that newer facts replaced (e.g. for history).")
        ] = False,
        max_tokens: Annotated[
            int | None,
            Field(
                ge=1, description="Only as many of the best hits as fit in this many tokens of result text."
            ),
        ] = None,
        min_score: Annotated[
            float | None,
            Field(
                ge=0,
                le=1,
                description="Leave out hits scoring below this (0-1; default 0.23; 0 returns every hit).",
            ),
        ] = None,
    ) -> Annotated[CallToolResult, RecallResult]:
        """Find the stored memories most relevant to a query, best first.

        Call it at the start of a task and whenever the user refers to something from before.
        When a fact changed, the newest version comes first and says what it 'replaces'; an
        older one carries 'replaced_by': answer with the newest. Each hit's score (0-1) is
        relevance on one scale for every query: about 0.25 loosely related, 0.6 clearly about
        the query, 0.9 and up a near restatement. No hits means nothing relevant was found.
        A date in the query ('in June 2023', 'last week') favours what happened then. For a
        question that needs several facts, recall each part on its own.
        """
        result = _adapt(
            lambda: service.recall(
                query,
                limit,
                tags,
                since,
                until,
                access(ctx).check(scope, default_scope),
                include_superseded,
                max_tokens,
                min_score,
            )
        )
        return _result(result, recall_text(result))

    @mcp.tool(
        title="Forget memories",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False),
    )
    def forget(
        ids: Annotated[
            list[str], Field(min_length=1, description="Ids of the memories to remove (from recall).")
        ],
        ctx: Context,
    ) -> Annotated[CallToolResult, ForgetResult]:
        """Permanently remove memories by id, when the user asks or a stored fact is wrong.

        All ids must exist; otherwise nothing is removed.
        """
        result = _adapt(lambda: service.forget(ids, actor=actor, scopes=access(ctx).scopes))
        return _result(result, forget_text(result))

    return mcp


def _result(result: BaseModel, text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=compact(result))


def _one(scope: str | list[str]) -> str:
    if isinstance(scope, str):
        return scope
    raise RemembrancerError("remember takes one scope, not a list.")
