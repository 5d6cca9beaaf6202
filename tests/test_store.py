"""The database file itself: schema, migrations, model binding, refusal of bad files, real forgetting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlean

from conftest import FakeEmbedder
from remembrancer.config import Settings
from remembrancer.errors import ModelMismatch, StoreError
from remembrancer.service import MemoryService
from remembrancer.storage.rows import RowFilter
from remembrancer.storage.sqlite.connection import connect
from remembrancer.storage.sqlite.migrations import LATEST_VERSION, MIGRATIONS
from remembrancer.storage.sqlite.store import Store


def _columns(path: Path, table: str) -> set[str]:
    conn = sqlean.connect(str(path))
    try:
        return {row[1] for row in conn.execute(f"pragma table_info({table})")}
    finally:
        conn.close()


def test_migration_from_an_empty_file_creates_the_schema(db_path: Path) -> None:
    db_path.write_bytes(b"")
    conn = connect(db_path)
    versions = [row[0] for row in conn.execute("select version from schema_migrations order by version")]
    journal = conn.execute("pragma journal_mode").fetchone()[0]
    conn.close()
    assert versions == [version for version, _, _ in MIGRATIONS]
    assert journal == "wal"
    assert {
        "id",
        "content",
        "content_hash",
        "scope",
        "tags",
        "metadata",
        "created_at",
        "updated_at",
    } <= _columns(db_path, "memories")
    assert {"memory_id", "event", "at", "actor", "details"} <= _columns(db_path, "history")


def test_an_older_store_upgrades_itself(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from remembrancer.storage.sqlite import migrations

    connect(db_path).close()

    def _002_add_probe_column(conn: object) -> None:
        conn.execute("alter table memories add column probe text")  # type: ignore[attr-defined]

    monkeypatch.setattr(
        migrations, "MIGRATIONS", [*MIGRATIONS, (LATEST_VERSION + 1, "probe", _002_add_probe_column)]
    )
    conn = connect(db_path)
    conn.close()
    assert "probe" in _columns(db_path, "memories")
    conn = connect(db_path)  # applying again is a no-op, not an error
    assert conn.execute("select count(*) from schema_migrations").fetchone()[0] == LATEST_VERSION + 1
    conn.close()


def test_a_version_5_store_gets_scopes_in_its_text_index(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from remembrancer.storage.sqlite import migrations

    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:5])
    conn = connect(db_path)
    conn.execute("begin")
    for rowid, scope in ((1, "work"), (2, "home"), (3, "work")):
        text = f"the budget review, note {rowid}"
        conn.execute(
            "insert into memories(rowid, id, content, content_hash, scope, created_at, updated_at)"
            " values (?, ?, ?, ?, ?, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
            (rowid, f"m_{rowid}", text, f"hash{rowid}", scope),
        )
        conn.execute(
            "insert into memory_fts(rowid, content, tags, context) values (?, ?, '', '')", (rowid, text)
        )
    conn.execute("commit")
    conn.close()

    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS)
    store = Store(connect(db_path), str(db_path))
    try:
        assert store.schema_version() == LATEST_VERSION
        assert "scope" in _columns(db_path, "memory_fts")
        assert sorted(rowid for rowid, _ in store.full_text(["budget"], RowFilter(("work",)), 10)) == [1, 3]
        both = store.full_text(["budget"], RowFilter(("work", "home")), 10)
        assert sorted(rowid for rowid, _ in both) == [1, 2, 3]
        assert store.full_text(["note"], RowFilter(("nowhere",)), 10) == []
        assert store.word_frequencies(["budget", "unknownword"]) == {"budget": 3, "unknownword": 0}
    finally:
        store.close()


def test_a_failing_migration_leaves_no_partial_step(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from remembrancer.storage.sqlite import migrations

    connect(db_path).close()

    def _002_half_done(conn: object) -> None:
        conn.execute("create table half_done (x)")  # type: ignore[attr-defined]
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS, (LATEST_VERSION + 1, "half", _002_half_done)])
    with pytest.raises(RuntimeError):
        connect(db_path)
    conn = sqlean.connect(str(db_path))
    tables = {row[0] for row in conn.execute("select name from sqlite_master")}
    applied = conn.execute("select max(version) from schema_migrations").fetchone()[0]
    conn.close()
    assert "half_done" not in tables
    assert applied == LATEST_VERSION


def test_opening_with_another_model_is_refused_with_the_fix(settings: Settings) -> None:
    MemoryService.open(settings, FakeEmbedder("model-a", 256)).close()
    with pytest.raises(ModelMismatch) as caught:
        MemoryService.open(settings, FakeEmbedder("model-b", 32))
    message = str(caught.value)
    assert "model-a (256 dimensions)" in message
    assert "model-b (32 dimensions)" in message
    assert "remembrancer reembed" in message


def test_reembed_switches_the_model_and_keeps_recall_working(settings: Settings) -> None:
    svc = MemoryService.open(settings, FakeEmbedder("model-a", 256))
    stored = svc.remember("The staging server is called kestrel")
    assert stored.memory is not None
    svc.close()
    svc = MemoryService.open(settings, FakeEmbedder("model-b", 32), bind_model=False)
    assert svc.reembed() == 1
    svc.close()
    svc = MemoryService.open(settings, FakeEmbedder("model-b", 32))
    try:
        assert svc.recall("staging server name").hits[0].id == stored.memory.id
        assert svc.stats().embedding_dim == 32
    finally:
        svc.close()


def test_a_corrupt_file_is_refused_and_never_overwritten(db_path: Path) -> None:
    garbage = b"this is not a database" * 500
    db_path.write_bytes(garbage)
    with pytest.raises(StoreError, match=r"not a readable SQLite database.*untouched"):
        connect(db_path)
    assert db_path.read_bytes() == garbage


def test_another_programs_database_is_refused(db_path: Path) -> None:
    conn = sqlean.connect(str(db_path))
    conn.execute("create table invoices (id integer)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=r"another program.*invoices"):
        connect(db_path)


def test_an_unwritable_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root in CI, where chmod cannot deny access; ask os.access as the user would.
    folder = tmp_path / "locked"
    folder.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != folder)
    with pytest.raises(StoreError, match="not writable"):
        connect(folder / "memory.db")
    assert list(folder.iterdir()) == []


def test_a_path_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the folder"):
        connect(blocker / "memory.db")


def test_forgotten_text_leaves_no_trace_in_any_database_file(settings: Settings, db_path: Path) -> None:
    secret = "zqxjkvplumbline"
    svc = MemoryService.open(settings.with_overrides(duplicate_threshold=0.999), FakeEmbedder())
    try:
        for n in range(300):  # enough rows that the secret shares pages and FTS segments with others
            svc.remember(f"filler memory {n} about gardening w{n}a w{n}b w{n}c")
        gone = svc.remember(
            f"The vault passphrase is {secret} forever", tags=[f"{secret}tag"], metadata={"note": secret}
        )
        svc.remember(f"The vault passphrase is {secret} forever", metadata={"note": f"{secret} again"})
        follower = svc.remember("The follower stored right after it, indexed with it as context")
        assert gone.memory is not None and follower.memory is not None
        svc.forget([gone.memory.id])
        # Scan while the store is still open, as a running server would have it: WAL included.
        files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
        assert any(p.name.endswith("-wal") for p in files)
        for path in files:
            assert secret.encode() not in path.read_bytes(), f"forgotten text found in {path.name}"
        assert svc.recall("vault passphrase", min_score=0).hits[0].id != gone.memory.id
        assert svc.stats().memories == 301
        assert svc.recall("follower stored right after", min_score=0).hits[0].id == follower.memory.id
    finally:
        svc.close()
    for path in db_path.parent.iterdir():
        assert secret.encode() not in path.read_bytes()


def test_migrations_are_frozen_code_that_agrees_with_the_live_index() -> None:
    """A step that has run on users' files must not change with live helpers: migrations.py
    imports nothing of ours, and step 6's frozen scope token is still the one the index uses."""
    import ast

    from remembrancer.storage.sqlite import migrations, text_index

    tree = ast.parse(Path(migrations.__file__).read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)] + [
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    ]
    assert not [name for name in imported if name.startswith("remembrancer")], imported
    for scope in ("default", "my-project", "team.infra", "ünïcode"):
        assert migrations._scope_token_as_of_006(scope) == text_index.scope_token(scope)


def test_a_nested_transaction_keeps_the_error_that_ended_it(db_path: Path) -> None:
    """An inner part that fails rolls back alone; when SQLite has already rolled everything back
    (as after a full disk), the caller still gets the error that did it, and the store goes on."""
    store = Store(connect(db_path), str(db_path))
    try:
        with store.transaction():
            store.conn.execute("insert into meta(key, value) values ('outer', '1')")
            with pytest.raises(ValueError), store.transaction():
                store.conn.execute("insert into meta(key, value) values ('inner', '1')")
                raise ValueError("inner part fails")
        assert store.get_meta("outer") == "1" and store.get_meta("inner") is None

        with pytest.raises(ValueError, match="disk"), store.transaction(), store.transaction():
            store.conn.execute("insert into meta(key, value) values ('lost', '1')")
            store.conn.execute("rollback")  # what SQLite does by itself on some errors
            raise ValueError("disk is full")
        assert store.get_meta("lost") is None
        with store.transaction():
            store.conn.execute("insert into meta(key, value) values ('after', '1')")
        assert store.get_meta("after") == "1"
    finally:
        store.close()


def test_the_duplicate_check_looks_a_text_up_by_its_hash_not_through_the_scope(db_path: Path) -> None:
    """SQLite has no statistics unless ANALYZE runs; without them it once answered the lookup
    through the (scope, superseded_by) index, reading every live memory of the scope (9.6 ms a
    remember at 100k memories, bench/scale.py). Every statement of the lookup must search by hash."""
    service = MemoryService.open(Settings(db_path=db_path), FakeEmbedder())
    try:
        service.remember("I live in Lisbon, near the river")
        store = service.store
        assert isinstance(store, Store)
        traced: list[str] = []
        store.conn.set_trace_callback(traced.append)
        try:
            assert store.find_by_hash("default", "no such hash") is None
        finally:
            store.conn.set_trace_callback(None)
        plans = [
            " | ".join(row[3] for row in store.conn.execute(f"explain query plan {sql}")) for sql in traced
        ]
        assert len(plans) == 2, traced
        assert "USING INDEX memories_scope_hash (scope=? AND content_hash=?)" in plans[0]
        assert "USING INDEX sightings_by_hash (content_hash=?)" in plans[1]
    finally:
        service.close()
