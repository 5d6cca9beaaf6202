"""A whole store read out and written in exactly as it was (keys, ids, times), for
``remembrancer copy``: a mixin of ``Store``, like ``StoreReads``."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from remembrancer.errors import StoreError
from remembrancer.storage.rows import (
    COPIED_COLUMNS,
    Guard,
    HistoryRow,
    Link,
    MemoryRow,
    WholeMemory,
    copied_values,
    missing_vector,
    to_json,
)
from remembrancer.storage.sqlite.connection import Connection
from remembrancer.storage.sqlite.sql import MEMORY_COLUMNS, marks


class StoreCopying:
    path: str
    conn: Connection
    lock: threading.RLock
    if TYPE_CHECKING:  # provided by Store

        def transaction(self) -> AbstractContextManager[None]: ...
        def _log_vector(self, rowid: int, op: str, vector: bytes | None = None, scope: str = "") -> None: ...
        def rebuild_text_index(self) -> None: ...
        def add_links(self, newer: int, older: Sequence[tuple[int, str, Guard]], at: str) -> None: ...

    def whole_memories(self, after: int, limit: int) -> list[WholeMemory]:
        """Up to ``limit`` memories with keys above ``after``, in key order."""
        with self.lock:
            rows = self.conn.execute(
                f"select {MEMORY_COLUMNS}, superseded_at from memories where rowid > ?"
                " order by rowid limit ?",
                (after, limit),
            ).fetchall()
            keys = [row[0] for row in rows]
            seen: dict[int, list[Any]] = {key: [] for key in keys}
            for rowid, *sighting in self.conn.execute(
                "select memory_rowid, seen_at, metadata, content, content_hash from sightings"
                f" where memory_rowid in ({marks(len(keys))}) order by rowid",
                keys,
            ):
                seen[rowid].append((sighting[0], json.loads(sighting[1]), sighting[2], sighting[3]))
            vectors = {
                key: self.conn.execute(
                    "select embedding from memory_vectors where rowid = ?", (key,)
                ).fetchone()
                for key in keys
            }
        for row in rows:
            if vectors[row[0]] is None:
                raise StoreError(missing_vector(row[1], self.path))
        return [
            WholeMemory(MemoryRow.from_tuple(row), row[15], bytes(vectors[row[0]][0]), tuple(seen[row[0]]))
            for row in rows
        ]

    def history_after(self, after: int, limit: int) -> list[HistoryRow]:
        with self.lock:
            rows = self.conn.execute(
                "select id, memory_id, event, at, actor, details from history where id > ?"
                " order by id limit ?",
                (after, limit),
            ).fetchall()
        return [HistoryRow(*row) for row in rows]

    def copy_in(self, memories: Sequence[WholeMemory], events: Sequence[HistoryRow]) -> None:
        """Memories and history events as another store holds them, keys and ids kept."""
        with self.lock, self.transaction():
            for whole in memories:
                row = whole.row
                self.conn.execute(
                    f"insert into memories({COPIED_COLUMNS}) values ({marks(16)})", copied_values(whole)
                )
                self.conn.executemany(
                    "insert into memory_tags(memory_rowid, tag) values (?, ?)",
                    [(row.rowid, t) for t in row.tags],
                )
                self.conn.execute(
                    "insert into memory_vectors(rowid, embedding, scope) values (?, ?, ?)",
                    (row.rowid, whole.vector, row.scope),
                )
                self._log_vector(row.rowid, "put", whole.vector, row.scope)
                self.conn.executemany(
                    "insert into sightings(memory_rowid, seen_at, metadata, content, content_hash)"
                    " values (?, ?, ?, ?, ?)",
                    [
                        (row.rowid, at, to_json(meta), text, digest)
                        for at, meta, text, digest in whole.sightings
                    ],
                )
            self.conn.executemany(
                "insert into history(id, memory_id, event, at, actor, details) values (?, ?, ?, ?, ?, ?)",
                [tuple(event) for event in events],
            )

    def finish_copy(self, links: Sequence[Link]) -> None:
        """The links between copied memories, and the full-text index with each memory's context."""
        with self.lock, self.transaction():
            for link in links:
                self.add_links(
                    link.newer, [(link.older, link.change, (link.guard, link.pair_guard))], link.at
                )
            self.rebuild_text_index()
