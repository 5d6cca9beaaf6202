"""The store's read-only queries, as a base class of ``Store`` (one concern, one file)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from remembrancer.storage.rows import HistoryRow, MemoryRow, RowFilter
from remembrancer.storage.sqlite import text_index
from remembrancer.storage.sqlite.connection import Connection
from remembrancer.storage.sqlite.sql import MEMORY_COLUMNS, marks, where_clause


class StoreReads:
    conn: Connection
    lock: threading.RLock

    def get_meta(self, key: str) -> str | None:
        with self.lock:
            row = self.conn.execute("select value from meta where key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def schema_version(self) -> int:
        with self.lock:
            row = self.conn.execute("select max(version) from schema_migrations").fetchone()
        return int(row[0] or 0)

    def pending_review(self, limit: int) -> list[MemoryRow]:
        with self.lock:
            rows = self.conn.execute(
                f"select {MEMORY_COLUMNS} from memories where needs_review = 1 and superseded_by is null"
                " order by rowid limit ?",
                (limit,),
            ).fetchall()
        return [MemoryRow.from_tuple(row) for row in rows]

    def history_event(self, event_id: int) -> HistoryRow | None:
        with self.lock:
            row = self.conn.execute(
                "select id, memory_id, event, at, actor, details from history where id = ?", (event_id,)
            ).fetchone()
        return None if row is None else HistoryRow(*row)

    def count_pending_review(self) -> int:
        with self.lock:
            row = self.conn.execute(
                "select count(*) from memories where needs_review = 1 and superseded_by is null"
            ).fetchone()
        return int(row[0])

    def was_reverted(self, event_id: int) -> bool:
        with self.lock:
            row = self.conn.execute(
                "select 1 from history where event = 'reverted' and json_extract(details, '$.event') = ?",
                (event_id,),
            ).fetchone()
        return row is not None

    def find_by_hash(self, scope: str, content_hash: str) -> MemoryRow | None:
        """A live (not superseded) memory in this scope with this text, or holding it as a folded wording."""
        with self.lock:
            # "+": the live check must not pick the (scope, superseded_by) index, which SQLite
            # prefers without statistics and which reads every live memory of the scope (9.6 ms
            # a remember at 100k) where (scope, content_hash) finds the one row.
            row = self.conn.execute(
                f"select {MEMORY_COLUMNS} from memories where scope = ? and content_hash = ?"
                " and +superseded_by is null limit 1",
                (scope, content_hash),
            ).fetchone()
            if row is None:
                columns = ", ".join(f"m.{column.strip()}" for column in MEMORY_COLUMNS.split(","))
                row = self.conn.execute(
                    f"select {columns} from sightings s join memories m on m.rowid = s.memory_rowid"
                    " where s.content_hash = ? and m.scope = ? and m.superseded_by is null limit 1",
                    (content_hash, scope),
                ).fetchone()
        return None if row is None else MemoryRow.from_tuple(row)

    def get_by_ids(self, ids: Sequence[str]) -> dict[str, MemoryRow]:
        found: dict[str, MemoryRow] = {}
        with self.lock:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                for row in self.conn.execute(
                    f"select {MEMORY_COLUMNS} from memories where id in ({marks(len(chunk))})", chunk
                ):
                    found[row[1]] = MemoryRow.from_tuple(row)
        return found

    def get_by_rowids(self, rowids: Sequence[int]) -> dict[int, MemoryRow]:
        if not rowids:
            return {}
        with self.lock:
            rows = self.conn.execute(
                f"select {MEMORY_COLUMNS} from memories where rowid in ({marks(len(rowids))})", list(rowids)
            ).fetchall()
        return {row[0]: MemoryRow.from_tuple(row) for row in rows}

    def scope_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(
                self.conn.execute("select scope, count(*) from memories group by scope order by scope")
            )

    def scope_exists(self, scope: str) -> bool:
        with self.lock:
            return (
                self.conn.execute("select 1 from memories where scope = ? limit 1", (scope,)).fetchone()
                is not None
            )

    def list_rows(self, row_filter: RowFilter, limit: int, offset: int = 0) -> list[MemoryRow]:
        where, params = where_clause(row_filter)
        with self.lock:
            rows = self.conn.execute(
                f"select {MEMORY_COLUMNS} from memories m where {where}"
                " order by m.created_at desc, m.rowid desc limit ? offset ?",
                (*params, limit, offset),
            ).fetchall()
        return [MemoryRow.from_tuple(row) for row in rows]

    def iter_rows(self, batch: int = 1000) -> Iterator[MemoryRow]:
        """Every memory in insertion order, read in batches so a huge store streams."""
        last = 0
        while True:
            with self.lock:
                rows = self.conn.execute(
                    f"select {MEMORY_COLUMNS} from memories where rowid > ? order by rowid limit ?",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield MemoryRow.from_tuple(row)
            last = rows[-1][0]

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        return set(self.get_by_ids(ids))

    def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        # A range on the id index (ids are ASCII: every id starting so sorts below prefix + DEL).
        with self.lock:
            rows = self.conn.execute(
                "select id from memories where id >= ? and id < ? order by id limit ?",
                (prefix, prefix + "\x7f", limit),
            ).fetchall()
        return [str(row[0]) for row in rows if str(row[0]).startswith(prefix)]

    def sightings(self, rowid: int) -> list[tuple[str, dict[str, Any], str | None]]:
        with self.lock:
            rows = self.conn.execute(
                "select seen_at, metadata, content from sightings where memory_rowid = ? order by seen_at",
                (rowid,),
            ).fetchall()
        return [(seen_at, json.loads(metadata), content) for seen_at, metadata, content in rows]

    def history(self, memory_id: str | None = None, limit: int = 100) -> list[HistoryRow]:
        with self.lock:
            if memory_id is None:
                sql = "select id, memory_id, event, at, actor, details from history order by id desc limit ?"
                return [HistoryRow(*row) for row in self.conn.execute(sql, (limit,))]
            return [
                HistoryRow(*row)
                for row in self.conn.execute(
                    "select id, memory_id, event, at, actor, details from history where memory_id = ?"
                    " order by id limit ?",
                    (memory_id, limit),
                )
            ]

    def newest_live(self, scope: str) -> int | None:
        with self.lock:
            row = self.conn.execute(
                "select max(rowid) from memories where scope = ? and superseded_by is null", (scope,)
            ).fetchone()
        return None if row[0] is None else int(row[0])

    def counts(self) -> dict[str, int]:
        with self.lock:
            row = self.conn.execute(
                "select (select count(*) from memories), (select count(*) from history),"
                " (select count(*) from memory_vectors)"
            ).fetchone()
        return {"memories": row[0], "history": row[1], "vectors": row[2]}

    def word_frequencies(self, words: list[str]) -> dict[str, int]:
        """How many memories hold each word, store-wide."""
        with self.lock:
            return text_index.document_frequencies(self.conn, words)

    def event_times(self, rowids: Sequence[int]) -> dict[int, str]:
        """When each of these memories happened (the database's UTC text form)."""
        if not rowids:
            return {}
        with self.lock:
            return {
                int(rowid): str(at)
                for rowid, at in self.conn.execute(
                    f"select rowid, occurred_at from memories where rowid in ({marks(len(rowids))})",
                    list(rowids),
                )
                if at is not None
            }
