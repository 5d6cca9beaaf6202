"""All SQL: memory rows, vectors, the full-text index and history.

Knows nothing of pydantic models, embedders or judges: it takes and returns plain values.
Every write that touches several tables runs inside ``transaction()``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remembrancer.errors import ModelMismatch, NotFound, StoreError
from remembrancer.storage.decisions import StoreDecisions
from remembrancer.storage.rows import Guard, Inserted, MemoryRow, NewMemory, float32_bytes, to_json
from remembrancer.storage.sqlite import text_index
from remembrancer.storage.sqlite.browsing import StoreBrowsing
from remembrancer.storage.sqlite.connection import Connection
from remembrancer.storage.sqlite.copying import StoreCopying
from remembrancer.storage.sqlite.links import StoreLinks
from remembrancer.storage.sqlite.reads import StoreReads
from remembrancer.storage.sqlite.search import StoreSearch

if TYPE_CHECKING:
    from remembrancer.storage.sqlite.vector_index import VectorIndex


log = logging.getLogger(__name__)


class Store(StoreDecisions, StoreSearch, StoreReads, StoreLinks, StoreCopying, StoreBrowsing):
    """One open database. Thread-safe: a lock serialises use of the single connection."""

    def __init__(self, conn: Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        self.lock = threading.RLock()
        self.embedding_dim: int | None = None
        self.vectors: VectorIndex | None = None
        self._after_commit: list[Callable[[], None]] = []
        self._depth = 0  # open transactions: 1 is the outermost, more are savepoints

    # -- transactions and bookkeeping -------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; the in-memory vector copy changes only once it commits. Inside
        another, a savepoint: the whole commits or rolls back as one, the inner part alone
        rolls back if it fails."""
        with self.lock:
            if self._depth:
                yield from self._savepoint()
                return
            try:
                self.conn.execute("begin immediate")
                self._after_commit, self._depth = [], 1
                version = int(self.conn.execute("pragma data_version").fetchone()[0])
                yield
                # Read before commit: once it commits, another writer may append to the log.
                position = self.conn.execute("select coalesce(max(seq), 0) from vector_log").fetchone()[0]
                self.conn.execute("commit")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("rollback")
                raise
            else:
                changes, self._after_commit, self._depth = self._after_commit, [], 0
                for change in changes:
                    try:
                        change()
                    except Exception:  # committed: one failed follow-up must not skip the others
                        log.exception("after a commit to %s", self.path)
                if self.vectors is not None:
                    self.vectors.committed_own_changes(version, int(position))
            finally:
                self._after_commit, self._depth = [], 0

    def _savepoint(self) -> Iterator[None]:
        name = f"inner_{self._depth}"
        changes = len(self._after_commit)
        self.conn.execute(f"savepoint {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            # SQLite may have rolled the whole transaction back itself (a full disk): then
            # there is no savepoint left, and the error that did it is the one to raise.
            if self.conn.in_transaction:
                self.conn.execute(f"rollback to {name}")
            del self._after_commit[changes:]
            raise
        finally:
            self._depth -= 1
            if self.conn.in_transaction:
                self.conn.execute(f"release {name}")

    def _log_vector(self, rowid: int, op: str, vector: bytes | None = None, scope: str = "") -> None:
        """Record a vector change for other processes, and apply it here once committed."""
        self.conn.execute("insert into vector_log(rowid, op) values (?, ?)", (rowid, op))
        if rowid % 1000 == 0:  # keep the log to its recent past; far-behind readers reload
            self.conn.execute("delete from vector_log where seq < (select max(seq) from vector_log) - 100000")
        index = self.vectors
        if index is None:
            return
        if op == "reset":
            self._after_commit.append(index.reset)
        elif op == "delete":
            self._after_commit.append(lambda: index.remove(rowid))
        elif vector is not None:
            self._after_commit.append(lambda: index.put(rowid, scope, vector))

    def file_bytes(self) -> int:
        """The size of the database on disk, its write-ahead log included."""
        files = (Path(self.path), Path(f"{self.path}-wal"))
        return sum(file.stat().st_size for file in files if file.exists())

    def describe(self) -> str:
        with self.lock:
            version, vec = self.conn.execute("select sqlite_version(), vec_version()").fetchone()
        return f"SQLite {version} with sqlite-vec {vec}"

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "insert into meta(key, value) values (?, ?)"
            " on conflict(key) do update set value = excluded.value",
            (key, value),
        )

    def bind_embedding_model(self, model: str, dim: int) -> None:
        """Record the model on first use; refuse a store embedded with a different one. Only
        the first use writes: reading commands open a store another process is writing to."""
        recorded = self._bound_model()
        if recorded[0] is None:
            with self.transaction():
                recorded = self._bound_model()
                if recorded[0] is None:
                    self._set_meta("embedding_model", model)
                    self._set_meta("embedding_dim", str(dim))
                    self._create_vector_table(dim)
                    recorded = (model, str(dim))
        if recorded[0] != model or int(recorded[1] or 0) != dim:
            raise ModelMismatch.between(recorded, model, dim, self.path)
        self.embedding_dim = dim
        self.vectors = None  # made, and loaded, by the first search

    def _bound_model(self) -> tuple[str | None, str | None]:
        with self.lock:
            model, dim = self.conn.execute(
                "select (select value from meta where key = 'embedding_model'),"
                " (select value from meta where key = 'embedding_dim')"
            ).fetchone()
        return model, dim

    def _create_vector_table(self, dim: int) -> None:
        # dim is an int we computed, never user text; a virtual table's declaration can't be bound.
        self.conn.execute(
            f"create virtual table if not exists memory_vectors using vec0("
            f"embedding float[{int(dim)}] distance_metric=cosine, scope text partition key)"
        )

    def replace_vector_table(self, model: str, dim: int, vectors: Iterator[tuple[int, str, bytes]]) -> None:
        """Drop every vector and store the given ones, all in one transaction (for reembed)."""
        with self.transaction():
            self.conn.execute("drop table if exists memory_vectors")
            self._create_vector_table(dim)
            self.conn.executemany(
                "insert into memory_vectors(rowid, embedding, scope) values (?, ?, ?)",
                ((rowid, vector, scope) for rowid, scope, vector in vectors),
            )
            self._set_meta("embedding_model", model)
            self._set_meta("embedding_dim", str(dim))
            self._log_vector(0, "reset")
        self.embedding_dim = dim
        self.vectors = None  # made, and loaded, by the first search

    # -- writes -------------------------------------------------------------------------

    def insert(
        self,
        memory: NewMemory,
        vector: bytes,
        actor: str,
        event: str = "added",
        details: dict[str, Any] | None = None,
        links: Sequence[tuple[int, str, Guard]] = (),
    ) -> Inserted:
        """The row, its tags, vector, full-text entry, history event and the links saying which
        older memories it changes the value of, in one transaction."""
        with self.lock, self._atomic():
            return self._insert(memory, vector, actor, event, details or {}, links)

    def _insert(
        self,
        memory: NewMemory,
        vector: bytes,
        actor: str,
        event: str,
        details: dict[str, Any],
        links: Sequence[tuple[int, str, Guard]],
    ) -> Inserted:
        occurred_at = memory.occurred_at or memory.created_at
        context = text_index.previous_in_sitting(self.conn, memory.scope, occurred_at)
        cursor = self.conn.execute(
            "insert into memories(id, content, content_hash, scope, tags, metadata, created_at, updated_at,"
            " seen_count, last_seen_at, needs_review, context_rowid, occurred_at)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
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
                int(memory.needs_review),
                None if context is None else context[0],
                occurred_at,
            ),
        )
        rowid = int(cursor.lastrowid)
        self.conn.executemany(
            "insert into memory_tags(memory_rowid, tag) values (?, ?)", [(rowid, tag) for tag in memory.tags]
        )
        self.conn.execute(
            "insert into memory_vectors(rowid, embedding, scope) values (?, ?, ?)",
            (rowid, vector, memory.scope),
        )
        self._log_vector(rowid, "put", vector, memory.scope)
        text_index.index(
            self.conn, rowid, memory.content, memory.tags, "" if context is None else context[1], memory.scope
        )
        event_id = self.add_history(
            memory.id, event, memory.created_at, actor, {"scope": memory.scope, **details}
        )
        self.add_links(rowid, links, memory.created_at)
        return Inserted(rowid, event_id)

    def replace_content(
        self, row: MemoryRow, content: str, content_hash: str, vector: bytes, at: str
    ) -> None:
        """Give a memory new text: row, full-text entry and vector together. Caller holds a transaction."""
        self.conn.execute(
            "update memories set content = ?, content_hash = ?, updated_at = ? where rowid = ?",
            (content, content_hash, at, row.rowid),
        )
        text_index.change_text(self.conn, row.rowid, content)
        self.conn.execute("update memory_vectors set embedding = ? where rowid = ?", (vector, row.rowid))
        self._log_vector(row.rowid, "put", vector, row.scope)

    def set_superseded(self, rowids: Sequence[int], by_id: str | None, at: str | None) -> None:
        """Mark memories superseded by another (or clear the mark with None). Caller holds a transaction."""
        self.conn.executemany(
            "update memories set superseded_by = ?, superseded_at = ? where rowid = ?",
            [(by_id, at, rowid) for rowid in rowids],
        )

    def set_needs_review(self, rowid: int, flag: bool) -> None:
        self.conn.execute("update memories set needs_review = ? where rowid = ?", (int(flag), rowid))

    def is_live(self, rowid: int) -> bool:
        """Still stored and not superseded (read inside a transaction to act on it)."""
        found = self.conn.execute("select superseded_by from memories where rowid = ?", (rowid,)).fetchone()
        return found is not None and found[0] is None

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
        """A duplicate arrived: count it and keep where it came from, and its wording (text and
        hash) when it was not identical (a near duplicate), so no merge loses text and the same
        wording is later recognised by its hash. Caller holds a transaction."""
        self.conn.execute(
            "update memories set seen_count = seen_count + 1, last_seen_at = ? where rowid = ?",
            (seen_at, rowid),
        )
        self.insert_sightings(rowid, [(seen_at, metadata, wording)])
        self.add_history(memory_id, "seen", seen_at, actor, details or {})

    def insert_sightings(
        self, rowid: int, sightings: Sequence[tuple[str, dict[str, Any], tuple[str, str] | None]]
    ) -> None:
        """Sightings as (seen_at, metadata, (wording, its hash) or None)."""
        self.conn.executemany(
            "insert into sightings(memory_rowid, seen_at, metadata, content, content_hash)"
            " values (?, ?, ?, ?, ?)",
            [
                (rowid, seen_at, to_json(metadata), *(wording if wording else (None, None)))
                for seen_at, metadata, wording in sightings
            ],
        )

    def add_history(self, memory_id: str, event: str, at: str, actor: str, details: dict[str, Any]) -> int:
        """The event's id."""
        cursor = self.conn.execute(
            "insert into history(memory_id, event, at, actor, details) values (?, ?, ?, ?, ?)",
            (memory_id, event, at, actor, to_json(details)),
        )
        return int(cursor.lastrowid)

    def delete(self, rows: Sequence[MemoryRow], at: str, actor: str) -> None:
        """Remove memories and every trace of their text; history keeps only id, time and actor."""
        if self.embedding_dim is None:
            raise StoreError("the vector table is not bound to a model yet")
        zeros = float32_bytes([0.0] * self.embedding_dim)
        with self.transaction():
            for row in rows:
                found = self.conn.execute(
                    "select context_rowid from memories where rowid = ?", (row.rowid,)
                ).fetchone()
                if found is None:  # forgotten by another caller since it was looked up
                    raise NotFound(f"no memory has the id {row.id!r}; nothing was forgotten.")
                context_rowid = found[0]
                self.scrub_mentions(row.id)
                text_index.unindex(self.conn, row.rowid, context_rowid)
                # vec0 may leave a deleted slot's bytes in its chunk; overwrite them first.
                self.conn.execute(
                    "update memory_vectors set embedding = ? where rowid = ?", (zeros, row.rowid)
                )
                self.conn.execute("delete from memory_vectors where rowid = ?", (row.rowid,))
                self._log_vector(row.rowid, "delete")
                self.conn.execute("delete from memories where rowid = ?", (row.rowid,))
                self.conn.execute("update history set details = '{}' where memory_id = ?", (row.id,))
                self.add_history(row.id, "forgotten", at, actor, {})
        self.checkpoint()

    # -- repairs (each inside the caller's transaction) ---------------------------------

    def drop_vectors(self, rowids: Sequence[int]) -> None:
        for rowid in rowids:
            self.conn.execute("delete from memory_vectors where rowid = ?", (rowid,))
            self._log_vector(rowid, "delete")

    def put_vectors(self, rows: Sequence[tuple[MemoryRow, bytes]]) -> None:
        for row, vector in rows:
            self.conn.execute(
                "insert into memory_vectors(rowid, embedding, scope) values (?, ?, ?)",
                (row.rowid, vector, row.scope),
            )
            self._log_vector(row.rowid, "put", vector, row.scope)

    def rebuild_text_index(self) -> None:
        """Index every memory again, with its context, from the memory rows."""
        self.conn.execute("delete from memory_fts")
        rows = self.conn.execute(
            "select m.rowid, m.content, m.tags, coalesce(p.content, ''), m.scope from memories m"
            " left join memories p on p.rowid = m.context_rowid"
        ).fetchall()
        for rowid, content, tags, context, scope in rows:
            text_index.index(self.conn, rowid, content, json.loads(tags), context, scope)

    def checkpoint(self) -> None:
        """Move the write-ahead log into the main file and truncate it, so old page images go
        (inside a transaction: once it commits)."""
        with self.lock:
            if self._depth:
                self._after_commit.append(self.checkpoint)
            else:
                self.conn.execute("pragma wal_checkpoint(truncate)")


def sqlite_store(store: object) -> Store:
    """The SQLite store behind a ``Storage``, for benchmarks and tests that read its tables."""
    if not isinstance(store, Store):
        raise TypeError(f"not a SQLite store: {type(store).__name__}")
    return store
