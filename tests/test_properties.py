"""Property-based tests of the three tools over arbitrary input, through the in-process MCP client.

Every example gets a fresh store (a temporary SQLite file, the fake embedder) seeded with a few
memories in three scopes (one of them superseded); one in-process MCP client serves them all.
The properties:

1. No call crashes: each one succeeds, or fails with a tool error whose message is more than the
   SDK's generic "Error executing tool NAME" and names the argument that is wrong.
2. No call changes a memory it has no business changing: after any call every memory in the
   store is exactly as expected (same id, content, scope, tags, metadata, timestamps, full-text
   entry and vector); a failed call changes nothing at all, a successful forget removes exactly
   the ids it was given, and a duplicate only counts a sighting on the memory it names.
3. What a successful remember stores is what was asked (content stripped, tags normalised,
   metadata as given, the scope named), and it can be listed and recalled back as stored.
4. A recall returns at most ``limit`` hits, only from the scopes asked for, and only memories
   that pass its filters (tags, since/until, superseded).

On well-typed input the tests also hold each tool to the rules the README documents (content
size, tag and scope names, metadata depth/size/control characters, limit range, ...): the call
must succeed exactly when the input follows them, and an error must name an offending argument.

``REMEMBRANCER_PROPERTY_EXAMPLES`` overrides the number of examples per test (default 200).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mcp import Client
from pydantic import TypeAdapter, ValidationError

from conftest import FakeEmbedder
from remembrancer.config import Settings
from remembrancer.retrieval import query_words
from remembrancer.server import build_server
from remembrancer.service import MemoryService
from remembrancer.storage.rows import RowFilter
from remembrancer.storage.sqlite.store import sqlite_store
from remembrancer.validation import timestamp
from servers import complete


@pytest.fixture
def service(sqlite_service: MemoryService) -> MemoryService:
    """This module looks at the SQLite engine's own files and tables."""
    return sqlite_service


EXAMPLES = int(os.environ.get("REMEMBRANCER_PROPERTY_EXAMPLES", "200"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)
#: Examples run per test, reported at the end of the module (pytest -s, or the terminal summary).
RUNS: Counter[str] = Counter()
#: Calls made through the client, by tool and outcome (an error, or the answer's status).
OUTCOMES: Counter[str] = Counter()

# -- the documented rules (README "Limits", validation.py messages) ---------------------------------

DEFAULT_SCOPE = "default"
MAX_CONTENT_BYTES = 32_768
MAX_METADATA_BYTES = 16_384
MAX_METADATA_DEPTH = 8
MAX_TAGS = 32
MAX_QUERY_CHARS = 4_000
MAX_SCOPES = 16
#: Control characters refused in text; tab, newline and carriage return are fine.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_CHARACTERS = "".join(chr(code) for code in range(0x80) if CONTROL.match(chr(code)))
SCOPE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,63}")
# The README's rule: a letter or digit first, then letters (with their combining marks), digits,
# spaces and . : / + # -; lowercased and NFC-normalised.
TAG_NAME = re.compile(r"[^\W_][\w\u0300-\u036f\u0900-\u0dff\u0610-\u065f .:/+#-]{0,63}")
GENERIC_CRASH = "Error executing tool"
MOMENT = TypeAdapter(datetime)
#: Stores live in RAM where there is a tmpfs: closing a store on disk syncs, and costs more than an example.
MEMORY_FOLDER = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def content_ok(content: str) -> bool:
    text = content.strip()
    return bool(text) and not CONTROL.search(text) and len(text.encode("utf-8")) <= MAX_CONTENT_BYTES


def normalised_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(unicodedata.normalize("NFC", tag.strip().lower()) for tag in tags))


def tags_ok(tags: list[str] | None) -> bool:
    if tags is None:
        return True
    cleaned = normalised_tags(tags)
    return all(TAG_NAME.fullmatch(tag) for tag in cleaned) and len(cleaned) <= MAX_TAGS


def scope_ok(scope: str) -> bool:
    return SCOPE_NAME.fullmatch(scope) is not None


def nesting(value: Any) -> int:
    """Containers inside containers: {} is 1, {"a": [1]} is 2."""
    if isinstance(value, dict):
        return 1 + max((nesting(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((nesting(item) for item in value), default=0)
    return 0


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def metadata_ok(metadata: dict[str, Any]) -> bool:
    """Nested at most 8 deep, at most 16 KB as JSON, and no refused control character in any key or
    value: the rule content follows, and what check_metadata means (it refuses NUL and DEL today)."""
    if nesting(metadata) > MAX_METADATA_DEPTH:
        return False
    if any(CONTROL.search(text) for text in strings_in(metadata)):
        return False
    return len(json.dumps(metadata, ensure_ascii=False).encode("utf-8")) <= MAX_METADATA_BYTES


def same_fact(a: str, b: str) -> bool:
    """Identical text up to case, width and spacing (README, "Deduplication")."""

    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()

    return norm(a) == norm(b)


def query_ok(query: str) -> bool:
    text = query.strip()
    return bool(text) and not CONTROL.search(text) and len(text) <= MAX_QUERY_CHARS


def utc(moment: datetime) -> datetime | None:
    """The moment in UTC (naive means UTC), or None when that is not a representable datetime."""
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        return None


# -- seeds and snapshots ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    content: str
    tags: list[str]
    metadata: dict[str, Any]
    scope: str | None


SEEDS = (
    Seed("The user's editor is Helix", ["tools"], {"source": "chat", "n": 1}, None),
    Seed("Deploys go to fly.io every Friday", ["ops", "schedule"], {"quote": 'it\'s "fine"; --'}, None),
    Seed("Tests run with pytest -x in CI", ["project", "testing"], {"nested": {"k": [1, 2.5, None]}}, "proj"),
    Seed("SELECT * FROM memories; DROP TABLE memories; -- is not a fact", [], {}, "proj"),
    Seed("Zürich office: café on floor 3 ☕", ["place"], {"rtl": "שלום"}, "other"),
)
SEED_SCOPES = (DEFAULT_SCOPE, "proj", "other")
#: A word of each seed that no other seed has.
SEED_KEYWORDS = ("Helix", "Friday", "pytest", "DROP", "Zürich")
#: Stored, then marked superseded by the first seed: recall leaves it out unless asked.
SUPERSEDED_SEED = Seed("The user's editor was Vim until 2023", ["tools"], {"source": "old"}, None)


@dataclass(frozen=True)
class Snapshot:
    """Everything about one memory that a call must not change behind our back."""

    content: str
    scope: str
    tags: list[str]
    metadata: dict[str, Any]
    created_at: str
    updated_at: str
    superseded_by: str | None
    seen_count: int
    indexed: tuple[str, str] | None  # the full-text row's content and tags
    vectors: int


def snapshot(service: MemoryService) -> dict[str, Snapshot]:
    store = sqlite_store(service.store)
    with store.lock:
        rows = store.conn.execute(
            "select m.id, m.content, m.scope, m.tags, m.metadata, m.created_at, m.updated_at,"
            " m.superseded_by, m.seen_count, f.content, f.tags,"
            " (select count(*) from memory_vectors v where v.rowid = m.rowid)"
            " from memories m left join memory_fts f on f.rowid = m.rowid"
        ).fetchall()
    return {
        row[0]: Snapshot(
            content=row[1],
            scope=row[2],
            tags=json.loads(row[3]),
            metadata=json.loads(row[4]),
            created_at=row[5],
            updated_at=row[6],
            superseded_by=row[7],
            seen_count=row[8],
            indexed=None if row[9] is None else (row[9], row[10]),
            vectors=row[11],
        )
        for row in rows
    }


def assert_store_consistent(service: MemoryService, after: str) -> None:
    """Every memory has one vector, one full-text row and its tag rows, and no full-text row keeps
    as context a text no memory holds (a forgotten memory's text must not stay behind)."""
    with sqlite_store(service.store).lock:
        conn = sqlite_store(service.store).conn
        rows = conn.execute("select rowid, content, tags from memories").fetchall()
        vectors = {rowid for (rowid,) in conn.execute("select rowid from memory_vectors")}
        indexed = dict(conn.execute("select rowid, context from memory_fts").fetchall())
        tag_rows = conn.execute("select memory_rowid, tag from memory_tags").fetchall()
    rowids = {row[0] for row in rows}
    assert vectors == rowids, f"after {after}: vectors of {vectors ^ rowids} do not match memories"
    assert set(indexed) == rowids, f"after {after}: full-text rows of {set(indexed) ^ rowids} do not match"
    tags = {(rowid, tag) for rowid, _, text in rows for tag in json.loads(text)}
    assert set(tag_rows) == tags, f"after {after}: memory_tags {set(tag_rows) ^ tags} do not match"
    contents = {content for _, content, _ in rows}
    stale = {rowid: context for rowid, context in indexed.items() if context and context not in contents}
    assert not stale, f"after {after}: full-text context holds text no memory has: {_shorten(stale)}"


def history_length(service: MemoryService) -> int:
    with sqlite_store(service.store).lock:
        return int(sqlite_store(service.store).conn.execute("select count(*) from history").fetchone()[0])


# -- the world one example runs in ----------------------------------------------------------------------


class CrashLog(logging.Handler):
    """Keeps the exceptions the SDK logs for a crashed tool, to show them in a failing assertion."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def describe(self) -> str:
        formatter = logging.Formatter()
        return "\n".join(
            formatter.formatException(record.exc_info) if record.exc_info else record.getMessage()
            for record in self.records
        )


ARGUMENT_WORDS = {
    "remember": ("content", "tag", "metadata", "scope"),
    "recall": ("query", "limit", "tag", "since", "until", "scope", "include_superseded"),
    "forget": ("ids", "id"),
}


@dataclass
class Outcome:
    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    message: str = ""


@dataclass
class World:
    service: MemoryService
    client: Client
    expected: dict[str, Snapshot]
    seed_ids: list[str]

    @property
    def default_scope(self) -> str:
        return self.service.settings.default_scope

    def scopes_in_use(self) -> set[str]:
        return {memory.scope for memory in self.expected.values()}

    async def call(self, tool: str, arguments: dict[str, Any]) -> Outcome:
        """Call a tool and check properties 1 and 2 (and 3, 4 for a successful remember, recall)."""
        before_history = history_length(self.service)
        crashes = CrashLog()
        sdk_log = logging.getLogger("mcp.server.mcpserver")
        sdk_log.addHandler(crashes)
        try:
            result = await self.client.call_tool(tool, arguments)
        finally:
            sdk_log.removeHandler(crashes)
        shown = _shorten(arguments)
        assert_store_consistent(self.service, f"{tool}({shown})")
        if result.is_error:
            OUTCOMES[f"{tool}: error"] += 1
            message = " ".join(getattr(block, "text", "") or "" for block in result.content).strip()
            detail = message.removeprefix(f"{GENERIC_CRASH} {tool}").removeprefix(":").strip()
            # Property 1: an anticipated error with a message, never the generic crash text.
            assert detail and not detail.startswith(GENERIC_CRASH), (
                f"{tool}({shown}) crashed; the client got only {message!r}.\n{crashes.describe()}"
            )
            assert any(word in detail for word in ARGUMENT_WORDS[tool]), (
                f"{tool}({shown}) failed with a message naming no argument: {detail!r}"
            )
            # Property 2: a failed call changes nothing.
            assert snapshot(self.service) == self.expected, f"{tool}({shown}) failed but changed memories"
            assert history_length(self.service) == before_history, f"{tool}({shown}) failed but wrote history"
            return Outcome(ok=False, message=detail)
        assert result.structured_content is not None, f"{tool}({shown}) answered without structured content"
        outcome = Outcome(ok=True, data=complete(dict(result.structured_content)))
        OUTCOMES[f"{tool}: {outcome.data.get('status', 'ok')}"] += 1
        if tool == "remember":
            self._after_remember(arguments, outcome.data, shown)
        elif tool == "recall":
            self._after_recall(arguments, outcome.data, shown)
        else:
            self._after_forget(arguments, outcome.data, shown)
        # Property 2: every memory is as expected, nothing else changed.
        assert snapshot(self.service) == self.expected, f"{tool}({shown}) changed memories it should not"
        if tool == "recall":
            assert history_length(self.service) == before_history, f"recall({shown}) wrote history"
        return outcome

    def _after_remember(self, arguments: dict[str, Any], data: dict[str, Any], shown: str) -> None:
        content: str = arguments["content"]
        scope = arguments.get("scope") or self.default_scope
        memory = data["memory"]
        assert data["status"] in {"added", "duplicate"}, f"remember({shown}): fallback judge said {data}"
        same_text = [
            memory_id
            for memory_id, known in self.expected.items()
            if known.scope == scope and known.superseded_by is None and same_fact(known.content, content)
        ]
        if same_text:  # identical up to case, width and spacing: always the memory already stored
            assert data["status"] == "duplicate" and data["duplicate_of"] in same_text, (
                f"remember({shown}) is the text of {same_text} but the answer is {data['status']}"
            )
        if data["status"] == "duplicate":
            target = data["duplicate_of"]
            assert target == memory["id"] and target in self.expected, f"remember({shown}): {data}"
            assert memory["scope"] == scope
            self.expected[target] = replace(
                self.expected[target], seen_count=self.expected[target].seen_count + 1
            )
            return
        # Property 3: stored as asked.
        assert memory["id"] not in self.expected
        assert memory["content"] == content.strip(), f"remember({shown}) stored {memory['content']!r}"
        assert memory["scope"] == scope and scope_ok(memory["scope"]), f"remember({shown}) scope {scope!r}"
        assert memory["tags"] == normalised_tags(arguments.get("tags", [])), f"remember({shown})"
        assert all(TAG_NAME.fullmatch(tag) for tag in memory["tags"]), f"remember({shown})"
        assert memory["metadata"] == arguments.get("metadata", {}), f"remember({shown})"
        stored = snapshot(self.service)[memory["id"]]
        assert stored.metadata == arguments.get("metadata", {})
        assert stored.superseded_by is None and stored.seen_count == 1 and stored.vectors == 1
        assert stored.indexed is not None and stored.indexed[0] == memory["content"]
        self.expected[memory["id"]] = stored
        listed = self.service.list_memories(scope=[scope], limit=10_000)
        assert [m.content for m in listed if m.id == memory["id"]] == [memory["content"]]

    def _after_recall(self, arguments: dict[str, Any], data: dict[str, Any], shown: str) -> None:
        # Property 4.
        limit = int(arguments.get("limit", 5))  # "5" and 5.0 pass validation as 5
        asked = arguments.get("scope")
        scopes = [self.default_scope] if asked is None else [asked] if isinstance(asked, str) else asked
        assert data["scopes"] == list(dict.fromkeys(scopes)), f"recall({shown}) searched {data['scopes']}"
        hits = data["hits"]
        assert len(hits) <= limit, f"recall({shown}) returned {len(hits)} hits"
        assert len({hit["id"] for hit in hits}) == len(hits), f"recall({shown}) repeated a hit"
        wanted_tags = normalised_tags(arguments.get("tags") or [])
        since, until = (_moment(arguments.get(name)) for name in ("since", "until"))
        for hit in hits:
            known = self.expected.get(hit["id"])
            assert known is not None, f"recall({shown}) returned an unknown memory {hit['id']}"
            assert hit["scope"] in scopes, f"recall({shown}) returned a hit from scope {hit['scope']!r}"
            assert (hit["content"], hit["scope"], hit["tags"], hit["metadata"]) == (
                known.content,
                known.scope,
                known.tags,
                known.metadata,
            )
            assert arguments.get("include_superseded") or hit["superseded_by"] is None, (
                f"recall({shown}) returned the superseded {hit['id']}"
            )
            assert all(tag in hit["tags"] for tag in wanted_tags), f"recall({shown}): tags of {hit}"
            created = datetime.fromisoformat(known.created_at)
            assert since is None or created >= since, f"recall({shown}): {hit['id']} is before since"
            assert until is None or created <= until, f"recall({shown}): {hit['id']} is after until"

    def _after_forget(self, arguments: dict[str, Any], data: dict[str, Any], shown: str) -> None:
        ids = list(dict.fromkeys(arguments["ids"]))
        assert data["forgotten"] == ids, f"forget({shown}) answered {data}"
        for memory_id in ids:
            assert memory_id in self.expected, f"forget({shown}) 'forgot' an id that did not exist"
            del self.expected[memory_id]


def _moment(value: Any) -> datetime | None:
    """A since/until argument as the server reads it, in UTC; None when absent or unreadable."""
    if value is None:
        return None
    try:
        return utc(MOMENT.validate_python(value))
    except ValidationError:
        return None


def _shorten(value: Any, width: int = 600) -> str:
    text = repr(value)
    return text if len(text) <= width else f"{text[:width]}... ({len(text)} characters)"


@contextmanager
def fresh_service() -> Iterator[MemoryService]:
    with tempfile.TemporaryDirectory(prefix="remembrancer-prop-", dir=MEMORY_FOLDER) as folder:
        service = MemoryService.open(Settings(db_path=Path(folder) / "memory.db"), FakeEmbedder())
        try:
            yield service
        finally:
            service.close()


class CurrentService:
    """Stands in for the running example's MemoryService, so one server and one client serve
    every example (building them costs more than an example) while each example has its own store."""

    def __init__(self) -> None:
        self.target: MemoryService | None = None

    def __getattr__(self, name: str) -> Any:
        assert self.target is not None, "no example is running"
        return getattr(self.target, name)


@dataclass(repr=False)
class Harness:
    portal: BlockingPortal
    client: Client
    current: CurrentService

    def __repr__(self) -> str:  # hypothesis prints it with every failing example
        return "harness"

    def run(self, name: str, body: Callable[[World], Awaitable[None]]) -> None:
        """Run one example: a fresh store with the seeds, then the async body on the shared client."""
        RUNS[name] += 1
        with fresh_service() as service:
            seed_ids = []
            for seed in SEEDS:
                result = service.remember(seed.content, seed.tags, seed.metadata, seed.scope)
                assert result.status == "added" and result.memory is not None
                seed_ids.append(result.memory.id)
            seed_ids.append(store_superseded(service, SUPERSEDED_SEED, by=seed_ids[0]))
            self.current.target = service
            try:
                self.portal.call(body, World(service, self.client, snapshot(service), seed_ids))
            finally:
                self.current.target = None


def store_superseded(service: MemoryService, seed: Seed, by: str) -> str:
    result = service.remember(seed.content, seed.tags, seed.metadata, seed.scope)
    assert result.status == "added" and result.memory is not None
    row = service.store.get_by_ids([result.memory.id])[result.memory.id]
    service.store.supersede([row], by, timestamp(datetime.now(UTC)), "test", {})
    return result.memory.id


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    current = CurrentService()
    with fresh_service() as first:
        current.target = first
        server = build_server(cast(MemoryService, current))
        current.target = None
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(Client(server)) as client,
    ):
        yield Harness(portal, client, current)


@pytest.fixture(scope="module", autouse=True)
def report_examples(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    lines = [f"  {name}: {count} examples" for name, count in sorted(RUNS.items())]
    calls = ", ".join(f"{name} {count}" for name, count in sorted(OUTCOMES.items()))
    summary = f"property examples run: {sum(RUNS.values())}\n" + "\n".join(lines) + f"\n  calls: {calls}"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
        print(f"\n{summary}")


# -- strategies ------------------------------------------------------------------------------------------

SPECIAL_CHARACTERS = (
    "\x00\x01\x07\x08\x0b\x0c\x1b\x1c\x1f\x7f\x85\xa0\t\n\r"  # NUL, controls, C1, NBSP
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2066\u2069\u2028\u2029\u3000\ufeff\ufffd"  # zero-width, bidi
    "\u0301\u0308\u093f\u0e31"  # combining marks
    "ﬁＡİıßǅאבשלוםبيت日本語한국"  # ligature, fullwidth, case oddities, RTL, CJK
    "😀👍🏽🇩🇪\U0001f468\u200d\U0001f469\u200d\U0001f467"  # emoji, skin tone, flag, ZWJ family
    "'\"`\\%_;*()[]{}:^-+?$@#/.,<>=|&!~"  # SQL, FTS5 and JSON punctuation
    "aZ09é "
)
# fmt: off
SQL_AND_FTS = (
    "'", "''", '"', '""', "';", "' OR 1=1 --", "'); DROP TABLE memories; --", "/*", "*/", "--", ";",
    "\\", "%", "_", "?", "?1", ":name", "@x", "$1", "NULL", "MATCH", "memory_fts", "rank", "bm25(",
    "AND", "OR", "NOT", "NEAR", "NEAR(", "NEAR(a b, 2)", "NEAR/3", "(", ")", "*", "pyt*", "^", "^helix",
    "-", "-helix", "+", "content:", "tags:", "context:", "content:helix", "{content tags}:", "-content:",
    '"helix"', '"unterminated', "helix OR", "OR helix", "a AND (b OR", "x NOT", "\x00", "ﬁ",
)
# fmt: on
SEED_WORDS = ("helix", "editor", "deploys", "fly.io", "friday", "pytest", "CI", "zürich", "café", "select")

any_text = st.one_of(
    st.text(),  # arbitrary unicode without surrogates
    st.text(alphabet=SPECIAL_CHARACTERS),
    st.lists(st.sampled_from(SQL_AND_FTS + SEED_WORDS), max_size=8).map(" ".join),
    st.lists(st.sampled_from(SQL_AND_FTS + SEED_WORDS), max_size=8).map("".join),
    st.lists(st.text(max_size=10) | st.sampled_from(SQL_AND_FTS), max_size=6).map(" ".join),
)
printable_text = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=8)
#: Strings near and beyond the limits, built by repetition so they are cheap to generate.
long_text = st.one_of(
    st.builds(
        lambda piece, times: piece * times, st.text(min_size=1, max_size=4), st.integers(1_000, 12_000)
    ),
    st.builds(
        lambda piece, size, pad: pad + piece * size + pad,
        st.sampled_from(["a", "é", "日", "😀", "a b "]),
        st.sampled_from([3_999, 4_000, 4_001, 8_192, 10_922, 10_923, 16_384, 32_768, 32_769, 40_000]),
        st.sampled_from(["", " ", "\n\t "]),
    ),
)
content_text = st.one_of(any_text, long_text, st.sampled_from([seed.content for seed in SEEDS]))
garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
tag_text = st.one_of(
    st.text(max_size=70),
    st.sampled_from(
        [
            "",
            " ",
            "Preference",
            " Project ",
            "a" * 64,
            "a" * 65,
            "_x",
            "-x",
            ".x",
            "a/b+c#d.e:f g-h",
            "ünïcödé",
            "日本語",
            "emoji😀",
            "tab\tx",
            "new\nline",
            "x\n",
            "İ",
            "हिंदी",
            "DROP TABLE memory_tags;--",
            "'",
            '"',
        ]
    ),
)
tags_list = st.one_of(st.lists(tag_text, max_size=6), st.lists(st.sampled_from(["a", "b", "c"]), max_size=40))
tags_any = st.one_of(tags_list, st.text(max_size=10), garbage, st.lists(garbage, min_size=1, max_size=3))

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
    st.just("\\u0000"),  # a backslash and 'u0000': text, not a control character
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)


def nested(depth: int, leaf: Any, as_list: bool) -> dict[str, Any]:
    value = leaf
    for _ in range(depth - 1):
        value = [value] if as_list else {"k": value}
    return {"deep": value}


metadata_dict = st.one_of(
    st.dictionaries(any_text, json_value, max_size=6),
    st.builds(nested, st.integers(1, 40), json_scalar, st.booleans()),
    st.builds(lambda size: {"big": "x" * size}, st.integers(16_300, 16_400)),
    st.builds(lambda n: {f"k{i}": i for i in range(n)}, st.integers(1_500, 2_500)),
    st.builds(lambda n: {"list": list(range(n))}, st.integers(100, 4_000)),
)
metadata_any = st.one_of(metadata_dict, garbage, st.text(max_size=10), st.lists(st.integers(), max_size=3))

scope_text = st.one_of(
    st.sampled_from(
        [
            *SEED_SCOPES,
            "nope",
            "",
            " ",
            "proj\n",
            "proj ",
            " proj",
            "Proj",
            "a" * 64,
            "a" * 65,
            "-x",
            "_x",
            "my-project",
            "a:b@c/d.e_f",
            "日本",
            "../../etc/passwd",
            "'; DROP TABLE memories; --",
            "proj\x00",
        ]
    ),
    st.text(max_size=70),
    st.text(alphabet="abcXYZ019_.:@/-", min_size=1, max_size=66),
)
scope_one = st.one_of(st.none(), scope_text)
scope_many = st.one_of(
    scope_one,
    st.lists(scope_text, max_size=4),
    st.lists(st.sampled_from(SEED_SCOPES), min_size=15, max_size=18),
    garbage,
)

offsets = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-(24 * 60 - 1), 24 * 60 - 1)
)
# The whole range: min_value and max_value default to datetime.min and datetime.max (naive).
moments = st.datetimes(timezones=st.none() | st.just(UTC) | offsets)
EXTREME_MOMENTS = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999+14:00",
    "0001-01-01",
    "9999-12-31",
    "2999-01-01",
    "1970-01-01T00:00:00Z",
]
moment_text = st.one_of(moments.map(datetime.isoformat), st.sampled_from(EXTREME_MOMENTS))
moment_any = st.one_of(
    st.none(),
    moment_text,
    st.sampled_from(["", "now", "yesterday", "2024-13-01", "2024-02-30T25:00", "2024-01-01T00:00:00+25:00"]),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)
limit_any: st.SearchStrategy[object] = st.one_of(
    st.integers(-5, 60),
    st.integers(),
    st.sampled_from([0, 1, 50, 51, -1, 2**63, 2**64, True, False, None, 5.0, 5.5, "5", "five", [], {}]),
)


@dataclass(frozen=True)
class Ref:
    """An id to resolve when the call runs: the n-th memory known at that time."""

    n: int


ids_any = st.one_of(
    st.lists(st.builds(Ref, st.integers(0, 9)), min_size=1, max_size=4),
    st.lists(st.one_of(st.builds(Ref, st.integers(0, 9)), any_text), max_size=8),
    st.lists(st.builds(Ref, st.integers(0, 9)), min_size=1, max_size=2),
    st.builds(lambda n: [f"m_{i:016x}" for i in range(n)], st.integers(495, 620)),
    st.just([]),
    st.text(max_size=20),
    garbage,
    st.lists(garbage, min_size=1, max_size=3),
)


def resolve(value: Any, known: list[str]) -> Any:
    if isinstance(value, Ref):
        return known[value.n % len(known)] if known else "m_gone"
    if isinstance(value, list):
        return [resolve(item, known) for item in value]
    return value


def optional(**strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict holding any subset of the given keys."""
    return st.fixed_dictionaries({}, optional=strategies)


#: Text with no refused control character: what a well-behaved client sends.
clean_text = st.text(st.characters(codec="utf-8", exclude_characters=CONTROL_CHARACTERS), max_size=200)
clean_tags = st.lists(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 _.:/+#-]{0,20}", fullmatch=True)
    | st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12),
    max_size=5,
)
clean_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | clean_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(clean_text, inner, max_size=3),
    max_leaves=10,
)
clean_scope = st.one_of(
    st.none(),
    st.sampled_from(SEED_SCOPES),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,63}", fullmatch=True),
)
seed_variants = st.builds(
    lambda seed, upper: seed.content.upper() if upper else f"  {seed.content}\n",
    st.sampled_from(SEEDS),
    st.booleans(),
)

remember_args = st.one_of(
    st.builds(
        lambda content, rest: {"content": content, **rest},
        clean_text | seed_variants,
        optional(
            tags=clean_tags, metadata=st.dictionaries(clean_text, clean_json, max_size=4), scope=clean_scope
        ),
    ),
    st.builds(
        lambda content, rest: {"content": content, **rest},
        content_text,
        optional(tags=tags_list, metadata=metadata_dict, scope=scope_one),
    ),
    st.builds(
        lambda content, rest: {"content": content, **rest},
        content_text | garbage,
        optional(tags=tags_any, metadata=metadata_any, scope=scope_one | garbage),
    ),
    optional(tags=tags_any, metadata=metadata_any, scope=scope_one),  # no content at all
)
query_text = st.one_of(any_text, long_text, st.sampled_from(SEED_WORDS))
recall_args = st.one_of(
    st.builds(
        lambda query, rest: {"query": query, **rest},
        query_text,
        optional(
            limit=st.integers(-5, 60),
            tags=st.none() | tags_list,
            since=st.none() | moment_text,
            until=st.none() | moment_text,
            scope=st.one_of(scope_one, st.lists(scope_text, max_size=4)),
            include_superseded=st.booleans(),
        ),
    ),
    st.builds(
        lambda query, rest: {"query": query, **rest},
        query_text | garbage,
        optional(
            limit=limit_any,
            tags=st.none() | tags_any,
            since=moment_any,
            until=moment_any,
            scope=scope_many,
            include_superseded=st.one_of(st.booleans(), garbage, st.sampled_from(["yes", "true", "0"])),
        ),
    ),
    optional(limit=limit_any, scope=scope_many),  # no query at all
)


# -- the expectations on well-typed input ------------------------------------------------------------------


def remember_problems(arguments: dict[str, Any]) -> list[str] | None:
    """The arguments that break a documented rule, or None when they are not well typed."""
    content = arguments.get("content")
    tags = arguments.get("tags", [])
    metadata = arguments.get("metadata", {})
    scope = arguments.get("scope")
    if not isinstance(content, str) or not isinstance(tags, list) or not isinstance(metadata, dict):
        return None
    if not all(isinstance(tag, str) for tag in tags) or not (scope is None or isinstance(scope, str)):
        return None
    problems = []
    if not content_ok(content):
        problems.append("content")
    if not tags_ok(tags):
        problems.append("tag")
    if not metadata_ok(metadata):
        problems.append("metadata")
    if scope is not None and not scope_ok(scope):  # None is the default scope; "" is an error
        problems.append("scope")
    return problems


def recall_problems(arguments: dict[str, Any], existing_scopes: set[str]) -> list[str] | None:
    """The arguments that break a documented rule; None when not well typed or not decidable."""
    query = arguments.get("query")
    limit = arguments.get("limit", 5)
    tags = arguments.get("tags")
    scope = arguments.get("scope")
    if not isinstance(query, str) or isinstance(limit, bool) or not isinstance(limit, int):
        return None
    if not (tags is None or (isinstance(tags, list) and all(isinstance(tag, str) for tag in tags))):
        return None
    names = [scope] if isinstance(scope, str) else scope
    if not (names is None or (isinstance(names, list) and all(isinstance(name, str) for name in names))):
        return None
    if not isinstance(arguments.get("include_superseded", False), bool):
        return None
    bounds: list[datetime | None] = []
    for name in ("since", "until"):
        value = arguments.get(name)
        if value is None:
            bounds.append(None)
            continue
        if not isinstance(value, str):
            return None
        moment = _moment(value)
        if moment is None:  # not representable in UTC: refusing it with a message is fine too
            return None
        bounds.append(moment)
    problems = []
    if not query_ok(query):
        problems.append("query")
    if not 1 <= limit <= 50:
        problems.append("limit")
    if not tags_ok(tags):
        problems.append("tag")
    # A well-formed scope that holds nothing yet is a note in the result, not an error.
    if names is not None and (not names or len(names) > MAX_SCOPES or not all(scope_ok(n) for n in names)):
        problems.append("scope")
    since, until = bounds
    if since is not None and until is not None and since > until:
        problems.append("since")
    return problems


def assert_matches_rules(tool: str, arguments: dict[str, Any], problems: list[str], outcome: Outcome) -> None:
    shown = _shorten(arguments)
    if not problems:
        assert outcome.ok, f"{tool}({shown}) follows every documented rule but failed: {outcome.message!r}"
    else:
        assert not outcome.ok, f"{tool}({shown}) breaks a rule ({', '.join(problems)}) but succeeded"
        assert any(word in outcome.message for word in problems), (
            f"{tool}({shown}) breaks a rule ({', '.join(problems)}) but the error names none: "
            f"{outcome.message!r}"
        )


# -- the tests ----------------------------------------------------------------------------------------------


@PROPERTY
@given(arguments=remember_args)
@example(arguments={"content": "A fact in a scope", "scope": "proj\n"})  # `$` also matches before "\n"
@example(arguments={"content": "A regex", "metadata": {"pattern": "\\u0000"}})  # text, not NUL
@example(arguments={"content": "A bell", "metadata": {"note": "\x07"}})  # as refused as in content
@example(arguments={"content": "x" * 32_769})
@example(arguments={"content": "é" * 16_384})
@example(arguments={"content": "\x00"})
@example(arguments={"content": "ok", "metadata": nested(9, 1, as_list=True)})
def test_remember_with_any_input(harness: Harness, arguments: dict[str, Any]) -> None:
    async def body(w: World) -> None:
        outcome = await w.call("remember", arguments)
        problems = remember_problems(arguments)
        if problems is not None:
            assert_matches_rules("remember", arguments, problems, outcome)
        if outcome.ok and outcome.data["status"] == "added":
            # Property 3: recalled back exactly as stored, in its own scope.
            memory = outcome.data["memory"]
            query = memory["content"][:MAX_QUERY_CHARS].strip()
            found = await w.call(
                "recall", {"query": query, "scope": [memory["scope"]], "limit": 50, "min_score": 0}
            )
            assert found.ok, found.message
            assert [hit["content"] for hit in found.data["hits"] if hit["id"] == memory["id"]] == [
                memory["content"]
            ], f"remember({_shorten(arguments)}): not recalled back by {query[:80]!r}"

    harness.run("remember", body)


@PROPERTY
@given(arguments=recall_args)
@example(arguments={"query": "x", "since": "0001-01-01T00:00:00+14:00"})
@example(arguments={"query": "x", "until": "9999-12-31T23:59:59-14:00"})
@example(arguments={"query": "0", "until": "9999-12-31"})  # the last day's end: no day after it
@example(arguments={"query": "x", "scope": "proj\n"})
@example(arguments={"query": 'NEAR(helix editor) AND "x* ^y -z content:w {tags}: (', "limit": 50})
@example(arguments={"query": "x", "scope": ["proj"] * 17})
def test_recall_with_any_input(harness: Harness, arguments: dict[str, Any]) -> None:
    async def body(w: World) -> None:
        outcome = await w.call("recall", arguments)
        problems = recall_problems(arguments, w.scopes_in_use())
        if problems is not None:
            assert_matches_rules("recall", arguments, problems, outcome)

    harness.run("recall", body)


@PROPERTY
@given(
    words=st.lists(
        st.sampled_from([w for w in SQL_AND_FTS + SEED_WORDS if not CONTROL.search(w)]) | printable_text,
        min_size=1,
        max_size=12,
    ),
    joiner=st.sampled_from([" ", "", "\t", " AND ", " OR ", " NOT ", " NEAR "]),
    seed=st.integers(0, len(SEEDS) - 1),
    wrap=st.tuples(*[st.text(alphabet="\"'^-+*():{}", max_size=3)] * 2),
)
@example(words=["NEAR(", "a AND (b OR"], joiner=" ", seed=0, wrap=('"', '*"'))
def test_full_text_syntax_in_a_query_is_only_text(
    harness: Harness, words: list[str], joiner: str, seed: int, wrap: tuple[str, str]
) -> None:
    """FTS5 syntax in a query is searched for as words: never an error, and a seed's keyword,
    wrapped in any syntax, still finds it on the full-text side."""
    chosen = SEEDS[seed]
    keyword = SEED_KEYWORDS[seed]
    query = f"{wrap[0]}{keyword}{wrap[1]} {joiner.join(words)}"

    async def body(w: World) -> None:
        scope = chosen.scope or DEFAULT_SCOPE
        outcome = await w.call("recall", {"query": query, "scope": scope, "limit": 50, "min_score": 0})
        assert outcome.ok, f"recall({query!r}) failed: {outcome.message}"
        assert w.seed_ids[seed] in [hit["id"] for hit in outcome.data["hits"]]
        # The few seeds would all be hits anyway: check the full-text side found it by its word.
        words = query_words(query)
        assert words
        by_text = w.service.store.full_text(words, RowFilter((scope,)), 50)
        rowid = w.service.store.get_by_ids([w.seed_ids[seed]])[w.seed_ids[seed]].rowid
        assert rowid in [found for found, _ in by_text], f"{words!r} did not find {chosen.content!r}"

    harness.run("fts syntax", body)


@PROPERTY
@given(ids=ids_any)
@example(ids=[Ref(0), "m_nope"])
@example(ids=[Ref(1), Ref(1), Ref(2)])
@example(ids=["\x00", "' OR 1=1 --"])
def test_forget_with_any_ids(harness: Harness, ids: Any) -> None:
    async def body(w: World) -> None:
        arguments = {"ids": resolve(ids, w.seed_ids)}
        outcome = await w.call("forget", arguments)
        wanted = arguments["ids"]
        if isinstance(wanted, list) and all(isinstance(item, str) for item in wanted):
            should_work = bool(wanted) and all(item in w.seed_ids for item in wanted)
            assert outcome.ok == should_work, f"forget({_shorten(wanted)}): {outcome}"
            if should_work:
                assert not set(wanted) & set(snapshot(w.service)), "a forgotten memory is still stored"

    harness.run("forget", body)


call_any = st.one_of(
    st.tuples(st.just("remember"), remember_args),
    st.tuples(st.just("recall"), recall_args),
    st.tuples(st.just("forget"), ids_any.map(lambda ids: {"ids": ids})),
)


@PROPERTY
@given(calls=st.lists(call_any, min_size=1, max_size=5))
@example(
    calls=[
        ("remember", {"content": "The cat is called Tom", "tags": ["pets"]}),
        ("forget", {"ids": [Ref(5)]}),
        ("recall", {"query": "cat", "tags": ["pets"]}),
        ("remember", {"content": "the cat is called  TOM"}),
    ]
)
def test_any_sequence_of_calls_keeps_every_other_memory(
    harness: Harness, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    """Properties 1-4 after every call of a random sequence; ids may name any memory stored so far."""

    async def body(w: World) -> None:
        for tool, arguments in calls:
            known = list(w.expected)
            if tool == "forget":
                arguments = {"ids": resolve(arguments["ids"], known)}
            await w.call(tool, arguments)

    harness.run("sequence", body)
