"""Reads for the memory browser: a page of memories by key, and counts for its charts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from remembrancer.storage.postgres.reads import MEMORY_COLUMNS, where_clause
from remembrancer.storage.rows import MemoryRow, RowFilter

#: Every scope name, one index probe each (a skip scan) rather than a walk over every memory.
SCOPE_NAMES = (
    "with recursive names(scope) as (select min(scope) from memories union all"
    " select (select min(scope) from memories where scope > names.scope) from names"
    " where names.scope is not null)"
    " select scope from names where scope is not null"
)


class PostgresBrowsing:
    if TYPE_CHECKING:  # provided by PostgresStore

        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

    def page_rows(self, row_filter: RowFilter, limit: int, before: int | None) -> list[MemoryRow]:
        where, params = where_clause(row_filter)
        if before is not None:
            where += " and m.rowid < %s"
            params.append(before)
        rows = self._rows(
            f"select {MEMORY_COLUMNS} from memories m where {where} order by m.rowid desc limit %s",
            [*params, limit],
        )
        return [MemoryRow.from_tuple(row) for row in rows]

    def scope_names(self) -> list[str]:
        return [name for (name,) in self._rows(SCOPE_NAMES)]

    def monthly_counts(self, scopes: Sequence[str] | None) -> list[tuple[str, str, int]]:
        where, params = ("", []) if scopes is None else ("where scope = any(%s)", [list(scopes)])
        rows = self._rows(
            f"select substr(created_at, 1, 7), scope, count(*) from memories {where}"
            " group by 1, 2 order by 1, 2",
            params,
        )
        return [(month, scope, int(count)) for month, scope, count in rows]

    def event_counts(self, scopes: Sequence[str] | None) -> dict[str, int]:
        if scopes is None:
            rows = self._rows("select event, count(*) from history group by event")
        else:
            rows = self._rows(
                "select h.event, count(*) from history h join memories m on m.id = h.memory_id"
                " where m.scope = any(%s) group by h.event",
                [list(scopes)],
            )
        return {event: int(count) for event, count in rows}
