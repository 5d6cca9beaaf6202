"""Reads for the memory browser: a page of memories by key, and counts for its charts."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from remembrancer.storage.rows import MemoryRow, RowFilter
from remembrancer.storage.sqlite.connection import Connection
from remembrancer.storage.sqlite.sql import MEMORY_COLUMNS, marks, where_clause

#: Every scope name, one index probe each (a skip scan) rather than a walk over every memory.
SCOPE_NAMES = (
    "with recursive names(scope) as (select min(scope) from memories union all"
    " select (select min(scope) from memories where scope > names.scope) from names"
    " where names.scope is not null)"
    " select scope from names where scope is not null"
)


class StoreBrowsing:
    conn: Connection
    lock: threading.RLock

    def page_rows(self, row_filter: RowFilter, limit: int, before: int | None) -> list[MemoryRow]:
        where, params = where_clause(row_filter)
        if before is not None:
            where += " and m.rowid < ?"
            params.append(before)
        if not (row_filter.since or row_filter.until or row_filter.only):
            # "+m.scope": walk the rowid order and filter, rather than gather the scopes' rows and
            # sort them; a time range or a status has an index that finds its few rows faster.
            where = where.replace("m.scope in", "+m.scope in", 1)
        with self.lock:
            rows = self.conn.execute(
                f"select {MEMORY_COLUMNS} from memories m where {where} order by m.rowid desc limit ?",
                (*params, limit),
            ).fetchall()
        return [MemoryRow.from_tuple(row) for row in rows]

    def scope_names(self) -> list[str]:
        with self.lock:
            return [name for (name,) in self.conn.execute(SCOPE_NAMES)]

    def monthly_counts(self, scopes: Sequence[str] | None) -> list[tuple[str, str, int]]:
        where = "" if scopes is None else f"where scope in ({marks(len(scopes))})"
        with self.lock:
            rows = self.conn.execute(
                f"select substr(created_at, 1, 7), scope, count(*) from memories {where}"
                " group by scope, substr(created_at, 1, 7)",  # as indexed (schema step 9)
                list(scopes or ()),
            ).fetchall()
        return [(month, scope, count) for month, scope, count in rows]

    def event_counts(self, scopes: Sequence[str] | None) -> dict[str, int]:
        with self.lock:
            if scopes is None:
                rows = self.conn.execute("select event, count(*) from history group by event").fetchall()
            else:
                rows = self.conn.execute(
                    "select h.event, count(*) from history h join memories m on m.id = h.memory_id"
                    f" where m.scope in ({marks(len(scopes))}) group by h.event",
                    list(scopes),
                ).fetchall()
        return {event: count for event, count in rows}
