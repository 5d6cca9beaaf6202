"""The PostgreSQL store's reads, as a base class of ``PostgresStore`` (its searches are in
``search``). Nothing is cached in the process: every answer comes from the database, so many
servers on one database never read a stale copy.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from remembrancer.storage.postgres.connection import Connection, translated
from remembrancer.storage.rows import Beside, HistoryRow, Link, MemoryRow, Replaced, RowFilter

MEMORY_COLUMNS = (
    "rowid, id, content, content_hash, scope, tags::text, metadata::text, created_at, updated_at,"
    " seen_count, last_seen_at, superseded_by, needs_review, context_rowid, occurred_at"
)
LINK_COLUMNS = "newer_rowid, older_rowid, change, guard::text, at"


def where_clause(row_filter: RowFilter, alias: str = "m") -> tuple[str, list[Any]]:
    clauses, params = [f"{alias}.scope = any(%s)"], list[Any]([list(row_filter.scopes)])
    if row_filter.only == "superseded":
        clauses.append(f"{alias}.superseded_by is not null")
    elif not row_filter.include_superseded or row_filter.only == "review":
        clauses.append(f"{alias}.superseded_by is null")
    if row_filter.only == "review":
        clauses.append(f"{alias}.needs_review")
    if row_filter.since is not None:
        clauses.append(f"{alias}.occurred_at >= %s")
        params.append(row_filter.since)
    if row_filter.until is not None:
        clauses.append(f"{alias}.occurred_at <= %s")
        params.append(row_filter.until)
    if row_filter.tags:
        clauses.append(f"{alias}.tags @> %s::jsonb")
        params.append(json.dumps(list(row_filter.tags)))
    return " and ".join(clauses), params


class PostgresReads:
    conn: Connection
    lock: threading.RLock
    busy_timeout: float

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.lock, translated(self.busy_timeout):
            return list(self.conn.execute(sql, list(params)).fetchall())

    def _memories(self, where: str, params: Sequence[Any] = ()) -> list[MemoryRow]:
        return [
            MemoryRow.from_tuple(row)
            for row in self._rows(f"select {MEMORY_COLUMNS} from memories m {where}", params)
        ]

    def _has_table(self, name: str) -> bool:
        return bool(self._rows("select to_regclass(%s) is not null", [name])[0][0])

    def get_meta(self, key: str) -> str | None:
        if not self._has_table("meta"):  # opened without migrating, before the first use
            return None
        rows = self._rows("select value from meta where key = %s", [key])
        return None if not rows else str(rows[0][0])

    def schema_version(self) -> int:
        if not self._has_table("schema_migrations"):
            return 0
        return int(self._rows("select coalesce(max(version), 0) from schema_migrations")[0][0])

    def get_by_ids(self, ids: Sequence[str]) -> dict[str, MemoryRow]:
        return {row.id: row for row in self._memories("where id = any(%s)", [list(ids)])} if ids else {}

    def get_by_rowids(self, rowids: Sequence[int]) -> dict[int, MemoryRow]:
        return (
            {row.rowid: row for row in self._memories("where rowid = any(%s)", [list(rowids)])}
            if rowids
            else {}
        )

    def find_by_hash(self, scope: str, content_hash: str) -> MemoryRow | None:
        """A live memory with this text as its own, else one that folded it in as a wording: two
        indexed lookups (one query with OR read the whole table, 123 ms at 100k)."""
        found = self._memories(
            "where scope = %s and content_hash = %s and superseded_by is null order by rowid limit 1",
            [scope, content_hash],
        ) or self._memories(
            "where rowid = (select min(s.memory_rowid) from sightings s join memories w on w.rowid ="
            " s.memory_rowid where s.content_hash = %s and w.scope = %s and w.superseded_by is null)",
            [content_hash, scope],
        )
        return found[0] if found else None

    def newest_live(self, scope: str) -> int | None:
        found = self._rows(
            "select max(rowid) from memories where scope = %s and superseded_by is null", [scope]
        )
        return None if found[0][0] is None else int(found[0][0])

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        return {row[0] for row in self._rows("select id from memories where id = any(%s)", [list(ids)])}

    def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        # A scan (the collation orders ids otherwise than bytes): only forget asks, rarely.
        sql = "select id from memories where starts_with(id, %s) order by id limit %s"
        return [str(row[0]) for row in self._rows(sql, [prefix, limit])]

    def is_live(self, rowid: int) -> bool:
        return bool(self._rows("select 1 from memories where rowid = %s and superseded_by is null", [rowid]))

    def list_rows(self, row_filter: RowFilter, limit: int, offset: int = 0) -> list[MemoryRow]:
        where, params = where_clause(row_filter)
        return self._memories(
            f"where {where} order by m.created_at desc, m.rowid desc limit %s offset %s",
            [*params, limit, offset],
        )

    def iter_rows(self, batch: int = 1000) -> Iterator[MemoryRow]:
        last = 0
        while rows := self._memories("where rowid > %s order by rowid limit %s", [last, batch]):
            yield from rows
            last = rows[-1].rowid

    def admitted(self, rowids: Sequence[int], row_filter: RowFilter) -> set[int]:
        if not rowids:
            return set()
        where, params = where_clause(row_filter)
        return {
            r[0]
            for r in self._rows(
                f"select m.rowid from memories m where m.rowid = any(%s) and {where}", [list(rowids), *params]
            )
        }

    def neighbours(self, rowids: list[int]) -> dict[int, Beside]:
        found = {rowid: Beside([], []) for rowid in rowids}
        for rowid, context in self._rows(
            "select rowid, context_rowid from memories where rowid = any(%s) or context_rowid = any(%s)",
            [list(rowids), list(rowids)],
        ):
            if rowid in found and context is not None:
                found[rowid].before.append(int(context))
            if context in found:
                found[context].after.append(int(rowid))
        return found

    def event_times(self, rowids: Sequence[int]) -> dict[int, str]:
        rows = self._rows("select rowid, occurred_at from memories where rowid = any(%s)", [list(rowids)])
        return {int(rowid): str(at) for rowid, at in rows if at is not None}

    def scope_counts(self) -> dict[str, int]:
        return dict(self._rows("select scope, count(*) from memories group by scope order by scope"))

    def scope_exists(self, scope: str) -> bool:
        return bool(self._rows("select 1 from memories where scope = %s limit 1", [scope]))

    def counts(self) -> dict[str, int]:
        memories, history, vectors = self._rows(
            "select (select count(*) from memories), (select count(*) from history),"
            " (select count(*) from memory_vectors)"
        )[0]
        return {"memories": memories, "history": history, "vectors": vectors}

    def pending_review(self, limit: int) -> list[MemoryRow]:
        return self._memories("where needs_review and superseded_by is null order by rowid limit %s", [limit])

    def count_pending_review(self) -> int:
        return int(
            self._rows("select count(*) from memories where needs_review and superseded_by is null")[0][0]
        )

    def history(self, memory_id: str | None = None, limit: int = 100) -> list[HistoryRow]:
        columns = "id, memory_id, event, at, actor, details::text"
        if memory_id is None:
            rows = self._rows(f"select {columns} from history order by id desc limit %s", [limit])
        else:
            rows = self._rows(
                f"select {columns} from history where memory_id = %s order by id limit %s", [memory_id, limit]
            )
        return [HistoryRow(*row) for row in rows]

    def history_event(self, event_id: int) -> HistoryRow | None:
        rows = self._rows(
            "select id, memory_id, event, at, actor, details::text from history where id = %s", [event_id]
        )
        return HistoryRow(*rows[0]) if rows else None

    def was_reverted(self, event_id: int) -> bool:
        return bool(
            self._rows(
                "select 1 from history where event = 'reverted' and details->>'event' = %s", [str(event_id)]
            )
        )

    def sightings(self, rowid: int) -> list[tuple[str, dict[str, Any], str | None]]:
        rows = self._rows(
            "select seen_at, metadata::text, content from sightings where memory_rowid = %s order by seen_at",
            [rowid],
        )
        return [(seen_at, json.loads(metadata), content) for seen_at, metadata, content in rows]

    def _links(self, where: str, params: Sequence[Any]) -> list[Link]:
        links = []
        for newer, older, change, guard, at in self._rows(
            f"select {LINK_COLUMNS} from memory_links {where}", params
        ):
            words = json.loads(guard)
            links.append(Link(newer, older, change, tuple(words["any"]), tuple(words["pair"]), at))
        return links

    def newer_links(self, older: int) -> list[Link]:
        return self._links("where older_rowid = %s", [older])

    def links_touching(self, rowids: Sequence[int]) -> list[Link]:
        return self._links(
            "where newer_rowid = any(%s) or older_rowid = any(%s)", [list(rowids), list(rowids)]
        )

    def replaced_by(self, ids: Sequence[str]) -> list[Replaced]:
        rows = self._rows(
            "select id, created_at, superseded_by from memories where superseded_by = any(%s) order"
            " by created_at",
            [list(ids)],
        )
        return [Replaced(*row) for row in rows]
