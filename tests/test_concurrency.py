"""Many writers on one database file: processes, server processes, and concurrent tool calls.

What must hold however the calls interleave: no call fails with a locking error, no
acknowledged write is lost, and every memory has its vector and its full-text row.
The multi-process run is bench/stress.py's, made small; its checks read the file directly.
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import CallToolResult

from conftest import FakeEmbedder
from remembrancer.config import Settings
from remembrancer.embeddings import FastEmbedder
from remembrancer.errors import NotFound
from remembrancer.server import build_server
from remembrancer.service import MemoryService
from remembrancer.storage.sqlite.store import sqlite_store
from servers import http_server, server_env, tool_data, tool_text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import stress  # bench/stress.py, by name: the processes it spawns import its workers from it


@pytest.fixture
def service(sqlite_service: MemoryService) -> MemoryService:
    """This module looks at the SQLite engine's own files and tables."""
    return sqlite_service


READ_TIMEOUT = 60.0  # the first call to a fresh server may wait for the model to load


def _contents(count: int, seed: int, label: str) -> list[str]:
    """Distinct texts far apart in meaning (stress.py's generator), so none is folded as a duplicate."""
    rng = random.Random(seed)
    return [stress.make_content(rng, 0, n, label) for n in range(count)]


def _index_state(db: Path) -> dict[str, tuple[bool, bool]]:
    """Every memory id in the file -> (has a vector row, has a full-text row), read directly."""
    conn = stress.open_raw(db)
    try:
        return {
            str(memory_id): (bool(vector), bool(fts))
            for memory_id, vector, fts in conn.execute(
                "select m.id, exists(select 1 from memory_vectors v where v.rowid = m.rowid),"
                " exists(select 1 from memory_fts f where f.rowid = m.rowid) from memories m"
            )
        }
    finally:
        conn.close()


def _assert_indexed(db: Path, ids: set[str]) -> None:
    state = _index_state(db)
    missing = ids - state.keys()
    assert not missing, f"{len(missing)} acknowledged memories are not in the file: {sorted(missing)[:5]}"
    unindexed = {i: state[i] for i in ids if state[i] != (True, True)}
    assert not unindexed, f"memories without their vector or full-text row (vector, fts): {unindexed}"
    conn = stress.open_raw(db)
    try:
        vectors = conn.execute("select count(*) from memory_vectors").fetchone()[0]
        fts = conn.execute("select count(*) from memory_fts").fetchone()[0]
    finally:
        conn.close()
    assert vectors == fts == len(state), f"{len(state)} memories, {vectors} vectors, {fts} FTS rows"


# -- (a) several processes on one file ---------------------------------------------------------


@pytest.mark.slow
def test_processes_remembering_recalling_and_forgetting_on_one_file(tmp_path: Path) -> None:
    config = stress.StressConfig(
        procs=3, ops=60, seconds=120.0, db=tmp_path / "memory.db", fake_embedder=True
    )
    report = stress.run_stress(config)
    print(report.table())  # shown on failure
    assert not report.worker_failures
    assert report.locked == 0, report.errors
    assert not report.errors, report.errors
    assert report.count() == config.procs * config.ops, "a worker stopped early"
    check = report.check
    assert check.lost_writes == [], "acknowledged memories are missing from the file"
    assert check.not_forgotten == [] and check.unexpected == []
    assert check.memories == check.expected > 0
    assert (check.missing_vectors, check.orphan_vectors, check.wrong_vectors) == (0, 0, 0)
    fts = (check.missing_fts, check.orphan_fts, check.wrong_fts_text, check.wrong_fts_context)
    assert fts == (0, 0, 0, 0), "full-text rows: missing, orphan, wrong text or tags, wrong context"
    assert check.dangling_context == 0 and check.missing_history == 0
    assert (check.integrity, check.fts_integrity) == ("ok", "ok")
    assert report.folded == 0, "distinct texts were folded as duplicates"
    assert report.recall_misses == 0, "a recall by exact text missed a memory that existed throughout"
    assert report.vector_misses == 0, "a recall found a memory by text only: its vector was not seen"
    assert report.view_drift == (0, 0, 0), (
        "after the run, a process's nearest-neighbour search (its in-memory vector copy) does not hold "
        "exactly the file's vectors: (missing, extra, wrong)"
    )
    assert report.ok


# -- (b) concurrent tool calls inside one server process ---------------------------------------


@pytest.mark.anyio
async def test_concurrent_tool_calls_in_one_process(service: MemoryService, db_path: Path) -> None:
    contents = _contents(40, seed=11, label="tools")
    remembered: dict[str, dict[str, Any]] = {}
    recalled: list[dict[str, Any]] = []

    async with Client(build_server(service)) as client:
        first = await _ok_call(
            client, "remember", {"content": "A first memory so recall has a store to search."}
        )

        async def remember(content: str) -> None:
            remembered[content] = tool_data(
                await client.call_tool("remember", {"content": content, "tags": ["load"]})
            )

        async def recall(query: str) -> None:
            recalled.append(tool_data(await client.call_tool("recall", {"query": query, "limit": 5})))

        async with anyio.create_task_group() as group:
            for n, content in enumerate(contents):
                group.start_soon(remember, content)
                if n % 4 == 0:
                    group.start_soon(recall, content)

        assert len(remembered) == len(contents) and len(recalled) == len(contents) // 4
        assert {result["status"] for result in remembered.values()} == {"added"}
        ids = {result["memory"]["id"] for result in remembered.values()}
        assert len(ids) == len(contents)

        # A second wave: forget half of them while remembering and recalling others.
        doomed = sorted(ids)[::2]
        more = _contents(10, seed=12, label="tools2")
        async with anyio.create_task_group() as group:
            for memory_id in doomed:
                group.start_soon(_ok_call, client, "forget", {"ids": [memory_id]})
            for content in more:
                group.start_soon(remember, content)
                group.start_soon(recall, content)

        for content in [*contents, *more]:  # a recall by exact text finds a memory while it lives
            found = tool_data(await client.call_tool("recall", {"query": content, "limit": 5}))
            memory_id = remembered[content]["memory"]["id"]
            hits = {hit["id"]: hit for hit in found["hits"]}
            assert (memory_id in hits) is (memory_id not in doomed)
            if memory_id in hits:  # and finds it by its vector too, not only by its words
                assert hits[memory_id]["similarity"] is not None and hits[memory_id]["similarity"] > 0.99

    live = (ids - set(doomed)) | {remembered[content]["memory"]["id"] for content in more}
    everything = live | {first["memory"]["id"]}
    assert set(_index_state(db_path)) == everything
    assert {m.id for m in service.list_memories(limit=1000)} == everything
    _assert_indexed(db_path, everything)


async def _ok_call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return tool_data(await client.call_tool(tool, arguments))


@pytest.mark.anyio
async def test_concurrent_forgets_of_one_memory_in_one_process(service: MemoryService, db_path: Path) -> None:
    """Several calls forget the same memory at once: one succeeds, the others say it is not there.

    Every failure must be the readable 'no memory has the id' error, never an internal one.
    """
    async with Client(build_server(service)) as client:
        keep = tool_data(await client.call_tool("remember", {"content": "This memory must survive."}))[
            "memory"
        ]["id"]
        for round_ in range(5):
            target = tool_data(
                await client.call_tool("remember", {"content": f"Forget me soon, round {round_}."})
            )
            memory_id = target["memory"]["id"]
            results: list[CallToolResult] = []

            async def forget(memory_id: str = memory_id, results: list[CallToolResult] = results) -> None:
                results.append(await client.call_tool("forget", {"ids": [memory_id]}))

            async with anyio.create_task_group() as group:
                for _ in range(4):
                    group.start_soon(forget)
            succeeded = [r for r in results if not r.is_error]
            failed = [tool_text(r) for r in results if r.is_error]
            assert len(succeeded) == 1, failed
            for text in failed:
                assert "no memory has the id" in text and memory_id in text, text
    assert [m.id for m in service.list_memories()] == [keep]
    _assert_indexed(db_path, {keep})


# -- forgets racing another process: deterministic interleavings --------------------------------


def _interleave(service: MemoryService, between: Callable[[], object], lookup: str = "get_by_ids") -> None:
    """Run ``between`` right after ``service``'s store next answers ``lookup`` outside a
    transaction: after a call checked what exists and before it writes, as another process could.
    (forget looks its ids up with get_by_ids; remember its identical text with find_by_hash.)"""
    store = sqlite_store(service.store)
    original = getattr(store, lookup)

    def looked_up(*args: Any) -> Any:
        found = original(*args)
        if not store.conn.in_transaction:
            setattr(store, lookup, original)
            between()
        return found

    setattr(store, lookup, looked_up)


@pytest.fixture
def two_services(settings: Settings) -> Iterator[tuple[MemoryService, MemoryService]]:
    """Two services on one file, each with its own connection: two server processes, in effect."""
    first = MemoryService.open(settings, FakeEmbedder())
    second = MemoryService.open(settings, FakeEmbedder())
    yield first, second
    first.close()
    second.close()


def test_forget_racing_a_forget_and_a_remember_elsewhere_keeps_the_new_memory(
    two_services: tuple[MemoryService, MemoryService], db_path: Path
) -> None:
    """A forgets X; before A's delete runs, B forgets X too and stores Y. Y must survive.

    Memory rowids are reused once the highest is deleted, so Y gets X's old rowid; a delete by
    the rowid A read before its transaction removes Y, a write B was told had succeeded.
    """
    a, b = two_services
    keep = a.remember("Alpha bravo charlie delta.").memory
    doomed = a.remember("Echo foxtrot golf hotel.").memory
    assert keep is not None and doomed is not None
    stored: list[str] = []

    def elsewhere() -> None:
        b.forget([doomed.id])
        added = b.remember("India juliet kilo lima.").memory
        assert added is not None
        stored.append(added.id)

    _interleave(a, elsewhere)
    with contextlib.suppress(NotFound):  # fair: by the time A deleted, the memory was gone
        a.forget([doomed.id])
    assert stored, "the interleaving did not run"
    survivors = {m.id for m in b.list_memories()}
    assert survivors == {keep.id, stored[0]}, "forgetting a memory already forgotten deleted another one"
    _assert_indexed(db_path, survivors)
    assert [e.event for e in b.history(stored[0])] == ["added"]


def test_forget_of_a_memory_another_process_just_forgot_says_not_found(
    two_services: tuple[MemoryService, MemoryService], db_path: Path
) -> None:
    """The loser of two concurrent forgets gets the readable NotFound (or succeeds), never a crash."""
    a, b = two_services
    keep = a.remember("Mike november oscar papa.").memory
    doomed = a.remember("Quebec romeo sierra tango.").memory
    assert keep is not None and doomed is not None
    _interleave(a, lambda: b.forget([doomed.id]))
    try:
        a.forget([doomed.id])
    except NotFound as exc:
        assert doomed.id in str(exc)
    assert {m.id for m in a.list_memories()} == {keep.id}
    _assert_indexed(db_path, {keep.id})


def test_remembering_a_known_fact_while_elsewhere_it_is_forgotten_stores_it(
    two_services: tuple[MemoryService, MemoryService], db_path: Path
) -> None:
    """A remembers a fact it holds already; before A records the sighting, B forgets the memory.
    The fact must be stored (as new), not fail: the caller asked for it to be remembered."""
    a, b = two_services
    original = a.remember("The user lives in Berlin.").memory
    assert original is not None
    _interleave(a, lambda: b.forget([original.id]), lookup="find_by_hash")
    result = a.remember("the user lives in berlin.")
    assert result.memory is not None
    assert result.memory.id != original.id and result.status == "added", result
    assert [m.content for m in b.list_memories()] == ["the user lives in berlin."]
    _assert_indexed(db_path, {result.memory.id})


class _CommitHook:
    """A connection that runs ``after`` once, right after its next commit: the moment another
    process's write can slip in before this process has finished its own bookkeeping."""

    def __init__(self, conn: Any, after: Callable[[], None]) -> None:
        self._conn = conn
        self._after: Callable[[], None] | None = after

    def execute(self, sql: str, *args: Any) -> Any:
        result = self._conn.execute(sql, *args)
        if self._after is not None and sql.strip().lower() in ("commit", "end", "commit transaction"):
            after, self._after = self._after, None
            after()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_a_write_committed_elsewhere_right_after_ours_reaches_our_vector_search(
    two_services: tuple[MemoryService, MemoryService], db_path: Path
) -> None:
    """A stores a memory; just after A's commit, B stores one and forgets another. A's nearest
    neighbour search (its in-memory copy of the vectors) must then see B's changes: B's new
    memory found by its vector, B's forgotten one gone, exactly the file's vectors."""
    a, b = two_services
    old = b.remember("Oscar papa quebec romeo.").memory
    assert old is not None
    a.remember("Alpha bravo charlie delta.")
    a.recall("alpha bravo")  # A now searches its own copy of the vectors
    added: list[str] = []

    def elsewhere() -> None:
        fresh = b.remember("Zulu yankee xray whiskey.").memory
        assert fresh is not None
        added.append(fresh.id)
        b.forget([old.id])

    original = sqlite_store(a.store).conn
    sqlite_store(a.store).conn = _CommitHook(original, elsewhere)
    try:
        a.remember("Echo foxtrot golf hotel.")
    finally:
        sqlite_store(a.store).conn = original
    assert added, "the interleaving did not run"

    hits = {hit.id: hit for hit in a.recall("Zulu yankee xray whiskey.", limit=5).hits}
    assert added[0] in hits
    assert hits[added[0]].similarity is not None, "B's memory was found by text only: A never saw its vector"
    drift = stress.vector_view_drift(a, db_path, scope="default")
    assert (drift["missing"], drift["extra"], drift["wrong"]) == (0, 0, 0), drift


# -- (c) two real server processes, stdio and HTTP, on one file ---------------------------------


@pytest.fixture
def http_port(tmp_path: Path, db_path: Path) -> Iterator[int]:
    """`remembrancer serve --transport http` on the test's database file (loopback, no token)."""
    with http_server(tmp_path, db_path, "http", "--no-auth") as port:
        yield port


@pytest.mark.slow
@pytest.mark.anyio
async def test_stdio_and_http_servers_share_one_file(
    tmp_path: Path, db_path: Path, http_port: int, real_embedder: FastEmbedder
) -> None:
    """`serve` over stdio and `serve --transport http` on one file, each storing 20 memories
    at once (real model): all 40 stored, each server sees the other's, nothing lost."""
    db = db_path
    per_server = 20
    texts = {"stdio": _contents(per_server, 21, "stdio"), "http": _contents(per_server, 22, "http")}
    results: dict[str, list[dict[str, Any]]] = {"stdio": [], "http": []}

    async def remember_all(client: Client, name: str) -> None:
        async def one(content: str) -> None:
            result = await client.call_tool("remember", {"content": content, "tags": [name]})
            results[name].append(tool_data(result))

        async with anyio.create_task_group() as group:
            for content in texts[name]:
                group.start_soon(one, content)

    env = server_env(tmp_path)
    stdio_params = StdioServerParameters(
        command=sys.executable, args=["-m", "remembrancer", "serve", "--db", str(db)], env=env, cwd=tmp_path
    )
    stdio_log = tmp_path / "server-stdio.log"
    try:
        with stdio_log.open("w") as errlog:
            async with (
                Client(stdio_client(stdio_params, errlog=errlog), read_timeout_seconds=READ_TIMEOUT) as stdio,
                Client(f"http://127.0.0.1:{http_port}/mcp", read_timeout_seconds=READ_TIMEOUT) as web,
            ):
                async with anyio.create_task_group() as group:
                    group.start_soon(remember_all, stdio, "stdio")
                    group.start_soon(remember_all, web, "http")
                # Each server finds every memory the other stored, by its words and by its vector.
                for client, other in ((stdio, "http"), (web, "stdio")):
                    for content in texts[other]:
                        found = tool_data(await client.call_tool("recall", {"query": content, "limit": 5}))
                        hits = {hit["content"]: hit for hit in found["hits"]}
                        assert content in hits, f"a {other} memory is not found through the other server"
                        assert (hits[content]["similarity"] or 0.0) > 0.99, (
                            f"a {other} memory is found through the other server by its words only: "
                            f"that server's vector search does not see it ({hits[content]})"
                        )
    finally:
        print(f"--- stdio server stderr ---\n{stdio_log.read_text()}", file=sys.stderr)  # shown on failure

    for name in ("stdio", "http"):
        assert len(results[name]) == per_server
        assert {r["status"] for r in results[name]} == {"added"}, results[name]
    ids = {r["memory"]["id"] for name in results for r in results[name]}
    assert len(ids) == 2 * per_server

    fresh = MemoryService.open(Settings(db_path=db), real_embedder)
    try:
        stored = {m.id: m for m in fresh.list_memories(limit=1000)}
        assert set(stored) == ids
        for name in ("stdio", "http"):
            assert {m.content for m in stored.values() if m.tags == [name]} == set(texts[name])
        assert fresh.store.counts()["vectors"] == 2 * per_server
    finally:
        fresh.close()
    _assert_indexed(db, ids)


@contextlib.contextmanager
def _write_lock_held(db: Path) -> Iterator[None]:
    """Another process's write in progress: a connection holding the write lock."""
    import sqlean

    holder = sqlean.connect(str(db), isolation_level=None)
    holder.execute("begin immediate")
    try:
        yield
    finally:
        holder.execute("rollback")
        holder.close()


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_store_locked_past_the_busy_timeout_says_busy_retry_and_loses_nothing(tmp_path: Path) -> None:
    from servers import run_cli, stdio_params, stdio_session

    db = tmp_path / "memory.db"
    params = stdio_params(tmp_path, REMEMBRANCER_BUSY_TIMEOUT="1")
    async with stdio_session(params, tmp_path / "stderr.log") as client:
        assert not (
            await client.call_tool("remember", {"content": "The boiler was serviced in May"})
        ).is_error
        with _write_lock_held(db):
            refused = await client.call_tool("remember", {"content": "The garage door code is 4417"})
            busy = {"REMEMBRANCER_BUSY_TIMEOUT": "1"}
            done = run_cli(tmp_path, "remember", "The bike lock code is 9021", "--db", str(db), **busy)
            # reads go on while another process writes
            reading = run_cli(tmp_path, "recall", "boiler", "--json", "--db", str(db), **busy)
        assert refused.is_error
        message = tool_text(refused)
        assert "the store is busy" in message and "retry" in message and "Traceback" not in message
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines()[-1].count("the store is busy") == 1, done.stderr
        assert reading.returncode == 0, reading.stderr
        assert [hit["content"] for hit in json.loads(reading.stdout)["hits"]] == [
            "The boiler was serviced in May"
        ]

        retried = tool_data(await client.call_tool("remember", {"content": "The garage door code is 4417"}))
        assert retried["status"] == "added"
        listed = tool_data(await client.call_tool("recall", {"query": "garage door code", "min_score": 0}))
        assert [hit["content"] for hit in listed["hits"]].count("The garage door code is 4417") == 1
