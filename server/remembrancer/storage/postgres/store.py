"""A store in a PostgreSQL database with pgvector: the same protocols as the SQLite engine.

Writers on many servers share one database: every write transaction first takes one advisory
lock (``WRITE_LOCK``), so what it read stays true until it commits, as SQLite's write lock
gives; readers never wait for it. Forgetting rewrites the tables it touched (``VACUUM FULL``)
once it commits, so the text leaves the database's files (see README: what stays in WAL and
backups).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from remembrancer.errors import ModelMismatch, NotFound
from remembrancer.storage.decisions import StoreDecisions
from remembrancer.storage.postgres.browsing import PostgresBrowsing
from remembrancer.storage.postgres.connection import Connection, connect, redacted, self_test, translated
from remembrancer.storage.postgres.copying import PostgresCopying
from remembrancer.storage.postgres.migrations import VECTOR_INDEX
from remembrancer.storage.postgres.search import SCOPE_ONLY, PostgresSearch, as_vector
from remembrancer.storage.rows import Guard, Inserted, MemoryRow, NewMemory, Sighting, same_sitting, to_json

log = logging.getLogger(__name__)
#: pg_advisory_xact_lock key every write transaction takes ("remembrancer write").
WRITE_LOCK = 0x72656D5F77726974


class PostgresStore(StoreDecisions, PostgresSearch, PostgresCopying, PostgresBrowsing):
    """One connection, serialised by a lock within the process and by ``WRITE_LOCK`` across."""

    def __init__(self, conn: Connection, uri: str, busy_timeout: float) -> None:
        self.conn, self.uri, self.busy_timeout = conn, uri, busy_timeout
        self.path = redacted(uri)
        self.lock = threading.RLock()
        self.embedding_dim: int | None = None
        self._depth = 0
        self._forgotten = False
        self._search_conn: Connection | None = None  # the vector side's own, made on first use
        self._search_lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            with self.lock, translated(self.busy_timeout), self.conn.transaction():
                self._depth += 1
                try:
                    if self._depth == 1:
                        self.conn.execute("select pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                    yield
                finally:
                    self._depth -= 1
        except BaseException:
            if self._depth == 0:  # rolled back: nothing was forgotten, nothing to clean up
                self._forgotten = False
            raise
        if self._depth == 0 and self._forgotten:
            self._forgotten = False
            self._vacuum()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.lock, translated(self.busy_timeout):
            return self.conn.execute(sql, list(params))

    def close(self) -> None:
        with self.lock:
            self.conn.close()
        with self._search_lock:
            if self._search_conn is not None:
                self._search_conn.close()

    def searcher(self, scopes: Sequence[str], k: int) -> Callable[[bytes], list[tuple[int, float]]]:
        """A search on a connection of its own, so recall's vector side runs while the text
        side's queries run on the main one (it reads committed rows only, as recall does)."""
        return lambda vector: self._nearest(vector, SCOPE_ONLY, [list(scopes)], k, self._search_rows, scopes)

    def _search_rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._search_lock, translated(self.busy_timeout):
            if self._search_conn is None:
                self._search_conn = connect(self.uri, busy_timeout=self.busy_timeout, migrate_schema=False)
            return list(self._search_conn.execute(sql, list(params)).fetchall())

    def file_bytes(self) -> int:
        return int(self._rows("select pg_database_size(current_database())")[0][0])

    def describe(self) -> str:
        with self.lock, translated(self.busy_timeout):
            return self_test(self.conn)

    def checkpoint(self) -> None:
        """The server checkpoints on its own schedule; nothing to do per store."""

    def bind_embedding_model(self, model: str, dim: int) -> None:
        recorded = (self.get_meta("embedding_model"), self.get_meta("embedding_dim"))
        if recorded[0] is None:
            with self.transaction():
                recorded = (self.get_meta("embedding_model"), self.get_meta("embedding_dim"))
                if recorded[0] is None:
                    self._set_vector_dim(model, dim)
                    recorded = (model, str(dim))
        if recorded[0] != model or int(recorded[1] or 0) != dim:
            raise ModelMismatch.between(recorded, model, dim, self.path)
        self.embedding_dim = dim

    def _set_vector_dim(self, model: str, dim: int, index: bool = True) -> None:
        self._execute(f"drop index if exists {VECTOR_INDEX}")
        self._execute(f"alter table memory_vectors alter column embedding type vector({int(dim)})")
        if index:
            self.index_vectors()
        for key, value in (("embedding_model", model), ("embedding_dim", str(dim))):
            self._execute(
                "insert into meta(key, value) values (%s, %s) on conflict (key) do update set value"
                " = excluded.value",
                [key, value],
            )

    def replace_vector_table(self, model: str, dim: int, vectors: Iterator[tuple[int, str, bytes]]) -> None:
        with self.transaction():
            self._execute("delete from memory_vectors")
            self._set_vector_dim(model, dim, index=False)  # built once, after: far faster
            for rowid, scope, vector in vectors:
                self.put_vector(rowid, scope, vector)
            self.index_vectors()
        self.embedding_dim = dim

    def index_vectors(self) -> None:
        """The HNSW index over every vector; a build in memory is several times faster than one
        that spills to disk (100k vectors of 384 floats need about 300 MB)."""
        self._execute("set local maintenance_work_mem = '512MB'")
        self._execute(
            f"create index if not exists {VECTOR_INDEX} on memory_vectors using hnsw"
            " (embedding vector_cosine_ops)"
        )

    def put_vector(self, rowid: int, scope: str, vector: bytes) -> None:
        self._execute(
            "insert into memory_vectors(rowid, scope, embedding) values (%s, %s, %s)"
            " on conflict (rowid) do update set embedding = excluded.embedding",
            [rowid, scope, as_vector(vector)],
        )

    # -- writes -------------------------------------------------------------------------

    def _previous_in_sitting(self, scope: str, occurred_at: str) -> tuple[int, str] | None:
        row = self._execute(
            "select rowid, content, coalesce(occurred_at, created_at) from memories"
            " where scope = %s and superseded_by is null order by rowid desc limit 1",
            [scope],
        ).fetchone()
        if row is None:
            return None
        return (int(row[0]), str(row[1])) if same_sitting(occurred_at, row[2]) else None

    def insert(
        self,
        memory: NewMemory,
        vector: bytes,
        actor: str,
        event: str = "added",
        details: dict[str, Any] | None = None,
        links: Sequence[tuple[int, str, Guard]] = (),
    ) -> Inserted:
        occurred_at = memory.occurred_at or memory.created_at
        with self.lock, self._atomic():
            context = self._previous_in_sitting(memory.scope, occurred_at)
            rowid = int(
                self._execute(
                    "insert into memories(id, content, content_hash, scope, tags, metadata, created_at,"
                    " updated_at, seen_count, last_seen_at, needs_review, context_rowid, occurred_at,"
                    " context) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " returning rowid",
                    [
                        memory.id,
                        memory.content,
                        memory.content_hash,
                        memory.scope,
                        to_json(memory.tags),
                        to_json(memory.metadata),
                        memory.created_at,
                        memory.updated_at,
                        memory.seen_count,
                        memory.last_seen_at,
                        memory.needs_review,
                        None if context is None else context[0],
                        occurred_at,
                        "" if context is None else context[1],
                    ],
                ).fetchone()[0]
            )
            self.put_vector(rowid, memory.scope, vector)
            event_id = self.add_history(
                memory.id, event, memory.created_at, actor, {"scope": memory.scope, **(details or {})}
            )
            self.add_links(rowid, links, memory.created_at)
        return Inserted(rowid, event_id)

    def replace_content(
        self, row: MemoryRow, content: str, content_hash: str, vector: bytes, at: str
    ) -> None:
        self._execute(
            "update memories set content = %s, content_hash = %s, updated_at = %s where rowid = %s",
            [content, content_hash, at, row.rowid],
        )
        self.put_vector(row.rowid, row.scope, vector)
        self._execute("update memories set context = %s where context_rowid = %s", [content, row.rowid])

    def set_superseded(self, rowids: Sequence[int], by_id: str | None, at: str | None) -> None:
        self._execute(
            "update memories set superseded_by = %s, superseded_at = %s where rowid = any(%s)",
            [by_id, at, list(rowids)],
        )

    def set_needs_review(self, rowid: int, flag: bool) -> None:
        self._execute("update memories set needs_review = %s where rowid = %s", [flag, rowid])

    def record_sighting(
        self,
        rowid: int,
        memory_id: str,
        seen_at: str,
        metadata: dict[str, Any],
        actor: str,
        details: dict[str, Any] | None = None,
        wording: tuple[str, str] | None = None,
    ) -> None:
        with self.transaction():
            self._execute(
                "update memories set seen_count = seen_count + 1, last_seen_at = %s where rowid = %s",
                [seen_at, rowid],
            )
            self.insert_sightings(rowid, [(seen_at, metadata, wording)])
            self.add_history(memory_id, "seen", seen_at, actor, details or {})

    def insert_sightings(self, rowid: int, sightings: Sequence[Sighting]) -> None:
        for seen_at, metadata, wording in sightings:
            self._execute(
                "insert into sightings(memory_rowid, seen_at, metadata, content, content_hash)"
                " values (%s, %s, %s, %s, %s)",
                [rowid, seen_at, to_json(metadata), *(wording if wording else (None, None))],
            )

    def add_history(self, memory_id: str, event: str, at: str, actor: str, details: dict[str, Any]) -> int:
        return int(
            self._execute(
                "insert into history(memory_id, event, at, actor, details) values (%s, %s, %s, %s,"
                " %s) returning id",
                [memory_id, event, at, actor, to_json(details)],
            ).fetchone()[0]
        )

    def add_links(self, newer: int, older: Sequence[tuple[int, str, Guard]], at: str) -> None:
        for rowid, change, guard in older:
            if rowid != newer:
                self._execute(
                    "insert into memory_links(newer_rowid, older_rowid, change, guard, at) values"
                    " (%s, %s, %s, %s, %s)"
                    " on conflict (newer_rowid, older_rowid) do update set change = excluded.change,"
                    " guard = excluded.guard, at = excluded.at",
                    [newer, rowid, change, json.dumps({"any": list(guard[0]), "pair": list(guard[1])}), at],
                )

    def drop_links(self, newer: int) -> None:
        self._execute("delete from memory_links where newer_rowid = %s", [newer])

    def drop_links_to(self, older: int) -> None:
        self._execute("delete from memory_links where older_rowid = %s", [older])

    def drop_all_links(self, rowid: int) -> None:
        self._execute("delete from memory_links where newer_rowid = %s or older_rowid = %s", [rowid, rowid])

    def delete(self, rows: Sequence[MemoryRow], at: str, actor: str) -> None:
        """Forget: the row, its sightings and links, its text in every other row's context and
        in every history event that mentions it; history keeps only ids, times and actors."""
        with self.transaction():
            for row in rows:
                found = self._execute(
                    "select context_rowid from memories where rowid = %s", [row.rowid]
                ).fetchone()
                if found is None:
                    raise NotFound(f"no memory has the id {row.id!r}; nothing was forgotten.")
                bridge = self._execute(
                    "select coalesce((select content from memories where rowid = %s), '')", [found[0]]
                ).fetchone()[0]
                self._execute(
                    "update memories set context_rowid = %s, context = %s where context_rowid = %s",
                    [found[0], bridge, row.rowid],
                )
                self._execute(
                    "update history set details = (details - 'previous' - 'new')"
                    ' || \'{"reason": "about a forgotten memory"}\'::jsonb'
                    " where memory_id <> %s and strpos(details::text, %s) > 0",
                    [row.id, row.id],
                )
                self._execute("delete from memories where rowid = %s", [row.rowid])
                self._execute("update history set details = '{}' where memory_id = %s", [row.id])
                self.add_history(row.id, "forgotten", at, actor, {})
            self._forgotten = True

    def _vacuum(self) -> None:
        """Forgotten text lingers after its transaction commits: in dead row versions, in the
        free space a plain VACUUM leaves on a page (moved, never zeroed), and as keys of the
        GIN indexes (never removed). VACUUM FULL writes each table and its indexes anew and
        drops the old files; it locks them meanwhile, which other servers wait out (about 5 s
        at 100k memories). The vectors, which hold no text, are left to autovacuum: rewriting
        their HNSW index took about 3 minutes at that size. The memory is already forgotten: a
        failure here is logged, not reported as a failed forget."""
        try:
            with self.lock, translated(self.busy_timeout):
                self.conn.execute("vacuum full memories, sightings, history, memory_links")
        except Exception:
            log.exception("cleaning up after a forget in %s (run VACUUM FULL by hand)", self.path)
