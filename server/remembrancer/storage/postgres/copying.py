"""A whole store read out and written in exactly as it was (keys, ids, times), for
``remembrancer copy``: a mixin of ``PostgresStore``, like ``PostgresReads``."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy as np

from remembrancer.errors import StoreError
from remembrancer.storage.postgres.migrations import VECTOR_INDEX
from remembrancer.storage.postgres.reads import MEMORY_COLUMNS
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


class PostgresCopying:
    path: str
    lock: threading.RLock

    if TYPE_CHECKING:  # provided by PostgresStore

        def transaction(self) -> AbstractContextManager[None]: ...
        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...
        def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
        def add_links(self, newer: int, older: Sequence[tuple[int, str, Guard]], at: str) -> None: ...
        def index_vectors(self) -> None: ...
        def put_vector(self, rowid: int, scope: str, vector: bytes) -> None: ...

    def whole_memories(self, after: int, limit: int) -> list[WholeMemory]:
        """Up to ``limit`` memories with keys above ``after``, in key order."""
        rows = self._rows(
            f"select c.*, v.embedding from (select {MEMORY_COLUMNS}, superseded_at from memories"
            " where rowid > %s order by rowid limit %s) c left join memory_vectors v on v.rowid = c.rowid"
            " order by c.rowid",
            [after, limit],
        )
        for row in rows:
            if row[16] is None:
                raise StoreError(missing_vector(row[1], self.path))
        seen: dict[int, list[Any]] = {row[0]: [] for row in rows}
        for rowid, at, metadata, text, digest in self._rows(
            "select memory_rowid, seen_at, metadata::text, content, content_hash from sightings"
            " where memory_rowid = any(%s) order by seen_at, ctid",
            [list(seen)],
        ):
            seen[rowid].append((at, json.loads(metadata), text, digest))
        return [
            WholeMemory(
                MemoryRow.from_tuple(row),
                row[15],
                np.asarray(row[16].to_numpy(), dtype=np.float32).tobytes(),  # a pgvector Vector
                tuple(seen[row[0]]),
            )
            for row in rows
        ]

    def history_after(self, after: int, limit: int) -> list[HistoryRow]:
        rows = self._rows(
            "select id, memory_id, event, at, actor, details::text from history where id > %s"
            " order by id limit %s",
            [after, limit],
        )
        return [HistoryRow(*row) for row in rows]

    def copy_in(self, memories: Sequence[WholeMemory], events: Sequence[HistoryRow]) -> None:
        """Memories and history events as another store holds them, keys and ids kept."""
        with self.transaction():
            if memories:  # the index is built once, in finish_copy: far faster than row by row
                self._execute(f"drop index if exists {VECTOR_INDEX}")
            for whole in memories:
                row = whole.row
                self._execute(
                    f"insert into memories({COPIED_COLUMNS}) overriding system value"
                    f" values ({', '.join(['%s'] * 16)})",
                    copied_values(whole),
                )
                self.put_vector(row.rowid, row.scope, whole.vector)
                for at, metadata, text, digest in whole.sightings:
                    self._execute(
                        "insert into sightings(memory_rowid, seen_at, metadata, content, content_hash)"
                        " values (%s, %s, %s, %s, %s)",
                        [row.rowid, at, to_json(metadata), text, digest],
                    )
            for event in events:
                self._execute(
                    "insert into history(id, memory_id, event, at, actor, details) overriding system value"
                    " values (%s, %s, %s, %s, %s, %s)",
                    list(event),
                )

    def finish_copy(self, links: Sequence[Link]) -> None:
        """The links between copied memories, each memory's context for the text side, the
        vector index, the planner's statistics, and the key generators past the copied keys."""
        with self.transaction():
            self.index_vectors()
            self._execute("analyze memories, memory_vectors")
            for link in links:
                self.add_links(
                    link.newer, [(link.older, link.change, (link.guard, link.pair_guard))], link.at
                )
            self._execute(
                "update memories m set context = p.content from memories p where p.rowid = m.context_rowid"
            )
            for table, column in (("memories", "rowid"), ("history", "id")):
                self._execute(
                    f"select setval(pg_get_serial_sequence('{table}', '{column}'),"
                    f" coalesce((select max({column}) from {table}), 0) + 1, false)"
                )
